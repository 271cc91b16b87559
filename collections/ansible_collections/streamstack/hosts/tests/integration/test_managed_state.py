"""streamstack.hosts.managed_state and the managed_drift filter.

The comparison functions (module_utils) directly, then the module and the filter through a
playbook on the controller itself: paths of every state and kind of difference in a temporary
folder, Debian packages from the controller's own dpkg database, .deb files built here with
dpkg-deb. The roles' use of it is proven by the Molecule scenarios (tests/roles/test_molecule.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from local.ansible import ROOT, run_playbook

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

COLLECTION = ROOT / "collections" / "ansible_collections" / "streamstack" / "hosts"
PLAYBOOK = PLAYBOOKS / "managed_state.yml"

spec = importlib.util.spec_from_file_location(
    "managed_state_utils", COLLECTION / "plugins" / "module_utils" / "managed_state.py"
)
ms = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ms)

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg")


# ----------------------------------------------------------------------------- module_utils


def test_path_comparison(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    f.chmod(0o640)
    sha1 = hashlib.sha1(b"x").hexdigest()  # noqa: S324
    sha256 = hashlib.sha256(b"x").hexdigest()
    have = ms.read_path(str(f), {"sha1": sha1, "sha256": sha256})
    assert have["state"] == "file" and have["mode"] == "0640" and have["sha1"] == sha1
    assert have["sha256"] == sha256
    assert "sha1" not in ms.read_path(str(f))  # hashed only when a digest is wanted
    assert not ms.path_differs({"state": "file", "sha256": sha256.upper(), "sha1": ""}, have)
    assert ms.path_differs({"state": "file", "sha256": "0" * 64}, have)
    me = have["owner"]
    assert not ms.path_differs({"state": "file", "mode": "0640", "owner": me, "sha1": sha1}, have)
    assert not ms.path_differs({"state": "file", "mode": "640", "sha1": sha1.upper()}, have)
    assert not ms.path_differs({"state": "file", "owner": str(os.getuid())}, have)
    assert not ms.path_differs({"state": "present"}, have)
    assert not ms.path_differs({}, have)  # state file by default, nothing else compared
    assert ms.path_differs({"state": "file", "mode": "0644"}, have)
    assert ms.path_differs({"state": "file", "sha1": "0" * 40}, have)
    assert ms.path_differs({"state": "file", "owner": "streamstack-nobody-such"}, have)
    assert ms.path_differs({"state": "file", "group": "streamstack-nobody-such"}, have)
    assert ms.path_differs({"state": "directory"}, have)
    assert ms.path_differs({"state": "absent"}, have)

    gone = ms.read_path(str(tmp_path / "gone"))
    assert gone == {"state": "absent"}
    assert not ms.path_differs({"state": "absent"}, gone)
    for state in ("file", "directory", "link", "present"):
        assert ms.path_differs({"state": state}, gone)

    (tmp_path / "l").symlink_to(f)
    link = ms.read_path(str(tmp_path / "l"))
    assert link["state"] == "link" and link["src"] == str(f)
    assert not ms.path_differs({"state": "link", "src": str(f), "mode": "0600"}, link)  # no mode
    assert ms.path_differs({"state": "link", "src": "/elsewhere"}, link)
    assert ms.path_differs({"state": "file"}, link)  # never followed

    wanted = [
        {"path": str(f), "state": "file", "mode": "0640"},
        {"path": str(tmp_path / "gone"), "state": "absent"},
        {"path": str(tmp_path / "not-read"), "state": "absent"},
    ]
    found = {w["path"]: ms.read_path(w["path"], w) for w in wanted[:2]}
    assert ms.drift(wanted, found) == [str(tmp_path / "not-read")]


def test_validate_path() -> None:
    assert (
        ms.validate_path({"path": "/a", "state": "file", "mode": "2750", "sha1": "a" * 40}) is None
    )
    assert "absolute" in ms.validate_path({"path": "a"})
    assert "state" in ms.validate_path({"path": "/a", "state": "hardlink"})
    assert "octal" in ms.validate_path({"path": "/a", "mode": "u=rw"})
    assert "octal" in ms.validate_path({"path": "/a", "mode": "0999"})
    assert "40 hex" in ms.validate_path({"path": "/a", "sha1": "abc"})
    assert "64 hex" in ms.validate_path({"path": "/a", "sha256": "a" * 40})
    assert ms.validate_path({"path": "/a", "sha256": ""}) is None  # not compared


STATUS = (
    "dpkg\tamd64\t1.21.22\tii \n"
    "libc6\tamd64\t2.36-9\tii \n"
    "libc6\ti386\t2.36-9\tun \n"
    "chrony\tamd64\t4.3-2\trc \n"
    "broken\tamd64\t1.0\tiF \n"
    "reinst\tall\t1.0\tiiR\n"
    "held\tall\t2.0\thi \n"
    "unpacked\tamd64\t1.0\tiU \n"
)


def test_package_status() -> None:
    status = ms.parse_dpkg_status(STATUS)
    assert status["libc6"]["installed"] and status["libc6:amd64"]["installed"]
    assert not status["libc6:i386"]["present"]
    wanted = ["dpkg", "dpkg=1.21.*", "dpkg=1.20*", "libc6:amd64", "libc6:i386", "chrony", "broken",
              "reinst", "held", "lib*", "nosuch", "nosuch*"]  # fmt: skip
    assert ms.missing_packages(wanted, status) == [
        "dpkg=1.20*", "libc6:i386", "chrony", "broken", "reinst", "nosuch", "nosuch*",
    ]  # fmt: skip
    # Gone unless something of it is still on disk (config files do not count, as for apt).
    assert ms.unwanted_packages(["chrony", "broken", "unpacked", "nosuch", "dpkg"], status) == [
        "broken", "unpacked", "dpkg",
    ]  # fmt: skip
    assert ms.split_spec("foo:amd64=1.0-1") == ("foo:amd64", "1.0-1")
    assert ms.split_spec("foo") == ("foo", None)


def test_dpkg_failure_is_reported() -> None:
    def failing(*_args, **_kwargs):
        return subprocess.CompletedProcess([], 2, "", "dpkg-query: database locked?")

    with pytest.raises(RuntimeError, match="database locked"):
        ms.dpkg_status(run=failing)


# ------------------------------------------------------------------ the module, the filter


def _deb(out: Path, package: str, version: str) -> Path:
    root = out.parent / f"build-{out.stem}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: StreamStack tests <tests@example.invalid>\nDescription: test\n"
    )
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", root, out], check=True,
                   capture_output=True)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    d = tmp_path_factory.mktemp("managed-state")
    d.chmod(0o755)
    (d / "same").write_text("hello")
    (d / "content").write_text("changed")
    (d / "download").write_text("hello")
    (d / "download-changed").write_text("hello again")
    (d / "mode").write_text("")
    (d / "mode").chmod(0o644)
    (d / "owner").write_text("")
    (d / "link").symlink_to(d / "same")
    (d / "link-elsewhere").symlink_to(d / "content")
    (d / "type").write_text("a file, not a directory")
    (d / "stamp").mkdir()
    (d / "not-gone").write_text("")
    for path in d.iterdir():
        os.lchown(path, 0, 0)
    (d / "debs").mkdir()
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "dpkg"], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    _deb(d / "debs" / "current.deb", "dpkg", version)
    _deb(d / "debs" / "older.deb", "dpkg", "0.1")
    arch = subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip
    result = run_playbook(PLAYBOOK, extra_vars={"ms_dir": str(d), "ms_arch": arch}, timeout=300)
    assert result.ok, result.messages()
    return d, {name: res for name, _, res in result.task_results()}, version, arch


pytestmark_root = pytest.mark.skipif(os.geteuid() != 0, reason="chowns test files to root")


@needs_dpkg
@pytestmark_root
def test_module_reports_what_differs(outcome) -> None:
    d, results, version, arch = outcome
    read = results["Read"]
    assert read["changed"] is False
    assert read["drift"] == [
        f"{d}/{name}"
        for name in (
            "content",
            "download-changed",
            "mode",
            "owner",
            "link-elsewhere",
            "type",
            "missing",
            "not-gone",
        )
    ]
    assert read["paths"][f"{d}/same"]["sha1"] == hashlib.sha1(b"hello").hexdigest()  # noqa: S324
    assert read["paths"][f"{d}/download"]["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert read["paths"][f"{d}/missing"] == {"state": "absent"}
    assert read["paths"][f"{d}/link"]["src"] == f"{d}/same"
    assert read["missing_packages"] == ["dpkg=0.*", "streamstack-no-such-package"]
    assert read["unwanted_packages"] == ["dpkg"]
    assert read["missing_debs"] == [f"{d}/debs/older.deb", f"{d}/debs/not-downloaded.deb"]
    assert read["installed_packages"]["dpkg"] == version
    assert f"coreutils:{arch}" in read["installed_packages"]


@needs_dpkg
@pytestmark_root
def test_check_mode_reads_the_same(outcome) -> None:
    _, results, _, _ = outcome
    checked = results["Read in check mode"]
    assert checked["changed"] is False
    assert checked["drift"] == results["Read"]["drift"]
    assert checked["missing_packages"] == results["Read"]["missing_packages"]
    empty = results["Nothing to read"]
    assert empty["drift"] == [] and empty["paths"] == {} and empty["missing_packages"] == []


@needs_dpkg
@pytestmark_root
def test_filter_compares_like_the_module(outcome) -> None:
    d, results, _, _ = outcome
    shown = results["Show the comparison"]["msg"]
    assert shown["again"] == results["Read"]["drift"]
    assert shown["changed_want"] == [f"{d}/same", f"{d}/never-read"]


@needs_dpkg
@pytestmark_root
def test_bad_input_fails_with_the_reason(outcome) -> None:
    d, results, _, _ = outcome
    bad = results["Bad paths"]
    assert bad["failed"]
    for reason in ("path must be absolute: 'relative/file'", "mode must be an octal string",
                   "sha1 must be 40 hex digits", f"{d}/mode: given more than once"):  # fmt: skip
        assert reason in bad["msg"], bad["msg"]
    assert results["Unknown state"]["failed"]
    assert "hardlink" in results["Unknown state"]["msg"]


def test_documentation_renders() -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    for args in (
        ["streamstack.hosts.managed_state"],
        ["-t", "filter", "streamstack.hosts.managed_drift"],
    ):
        doc = [str(ROOT / ".venv" / "bin" / "ansible-doc"), "--json", *args]
        out = subprocess.run(doc, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
        assert args[-1] in out.stdout and "RETURN" in out.stdout.upper()

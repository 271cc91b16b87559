"""The execution environment (execution-environment.yml) built offline with podman: no registry,
no Galaxy; PyPI and Debian's mirror only. `make ee` runs `build`.

    python scripts/ee.py build     # tools, base image, ansible-builder's context, podman build
    SESSION_MANAGER_PLUGIN_URL=https://s3.amazonaws.com/session-manager-downloads/plugin/latest \
        python scripts/ee.py build   # with AWS's session-manager-plugin (needs AWS's bucket)
    python scripts/ee.py base      # localhost/streamstack-ee-base:trixie only
    python scripts/ee.py tools     # .cache/ee-tools: ansible-builder and ansible-navigator

- **Tools**: ansible-builder and ansible-navigator in a venv of their own (.cache/ee-tools, from
  execution-environment/tools.txt with the controller's pins as constraints), so the
  controller's .venv stays as requirements.txt makes it.
- **Base image**: Debian 13 (Python 3.13: ansible-core needs 3.12 or newer; Debian 12 has 3.11)
  from Debian's packages, as the hosts' image is (local/hosts/image.py: debootstrap,
  the host's mirrors and extra CA certificates, ``podman import``), plus ``ee-apt``, which runs
  ansible-builder's dnf-style package calls (``install -y PKG...``, ``clean all``) with apt-get,
  and a venv (/opt/ee, first on PATH) as the image's Python.
  The debootstrap tarball is cached by its inputs, the image labelled with its recipe's hash.
- **Image**: ``ansible-builder create`` writes the build context (.cache/ee/context); the
  collections collections/requirements.yml pins by name are copied into its seed folder from the
  controller's (the PyPI ``ansible`` package bundles exactly those versions: checked here), and
  ``podman build`` runs ansible-galaxy with ``--offline``, so it finds them installed and installs
  ours from the repository. podman keeps the layers: an unchanged context rebuilds nothing.

Every command that runs podman must hold /tmp/streamstack-podman.lock on this project's test
machines (the caller takes it: ``flock /tmp/streamstack-podman.lock make ee``).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.hosts import image as hostimage  # noqa: E402  (the hosts' image recipe and podman)

DEFINITION = ROOT / "execution-environment.yml"
TOOLS_REQUIREMENTS = ROOT / "execution-environment" / "tools.txt"
CACHE = ROOT / ".cache"
TOOLS = CACHE / "ee-tools"
BASE_CACHE = CACHE / "eeimage"
CONTEXT = CACHE / "ee" / "context"
BASE_IMAGE = "localhost/streamstack-ee-base:trixie"
LABEL = "org.streamstack.eebase.recipe"
SUITE = "trixie"
# python3-venv: the image's venv, and ansible-builder's scripts make one more.
PACKAGES = ("python3", "python3-venv", "ca-certificates")
VENV = "/opt/ee"  # execution-environment.yml's python_path
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# ansible-builder's scripts call a dnf-like package manager (options.package_manager_path).
EE_APT = """#!/bin/sh
# ansible-builder's package calls on Debian (execution-environment.yml, scripts/ee.py):
#   ee-apt install -y [options] PKG...   ee-apt clean all
set -eu
archives=/tmp/ee-apt-archives
case "${1:-}" in
  install)
    shift
    packages=""
    for arg in "$@"; do case "$arg" in -*) ;; *) packages="$packages $arg" ;; esac; done
    mkdir -p "$archives/partial"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\
      -o Dir::Cache::Archives="$archives" $packages
    rm -rf "$archives"
    ;;
  clean) rm -rf /var/lib/apt/lists/* "$archives" ;;
  *) echo "ee-apt: not supported: $*" >&2; exit 2 ;;
esac
"""


def log(msg: str) -> None:
    print(f"[ee] {msg}", file=sys.stderr, flush=True)


def _run(*cmd: str, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    return subprocess.run(cmd, **kwargs)


# --------------------------------------------------------------------------- tools


def tools() -> Path:
    """The venv with ansible-builder and ansible-navigator, rebuilt when tools.txt changes."""
    # ansible-navigator refuses podman without /dev/mqueue, which container sandboxes may lack.
    mqueue = Path("/dev/mqueue")
    if not mqueue.exists() and os.geteuid() == 0:
        mqueue.mkdir()
    stamp = TOOLS / ".tools.sha256"
    want = hashlib.sha256(
        TOOLS_REQUIREMENTS.read_bytes() + (ROOT / "requirements.txt").read_bytes()
    ).hexdigest()
    built = (TOOLS / "bin" / "ansible-builder").is_file() and stamp.is_file()
    if built and stamp.read_text().strip() == want:
        return TOOLS / "bin"
    log(f"installing ansible-builder and ansible-navigator into {TOOLS}")
    shutil.rmtree(TOOLS, ignore_errors=True)
    _run(sys.executable, "-m", "venv", str(TOOLS))
    _run(
        str(TOOLS / "bin" / "pip"),
        "install",
        "-q",
        "-r",
        str(TOOLS_REQUIREMENTS),
        "-c",
        str(ROOT / "requirements.txt"),
    )
    stamp.write_text(want + "\n")
    return TOOLS / "bin"


# --------------------------------------------------------------------------- base image


@dataclass(frozen=True)
class BaseRecipe(hostimage.DebianRecipe):
    """Everything that decides the base image's content."""

    suite: str = SUITE
    packages: tuple[str, ...] = PACKAGES

    @classmethod
    def from_host(cls) -> BaseRecipe:
        # What makes the image of a rootfs (not this whole file: a change of the build steps
        # below must not rebuild the base, and with it every layer on top).
        return cls._from_host(
            "\n".join([EE_APT, VENV, SYSTEM_PATH, inspect.getsource(_customise)]).encode()
        )


def _rootfs_tarball(recipe: BaseRecipe) -> Path:
    tarball = BASE_CACHE / f"rootfs-{recipe.base_key}.tar"
    if tarball.is_file():
        return tarball
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    return hostimage.debootstrap_tarball(
        tarball,
        suite=recipe.suite,
        packages=recipe.packages,
        mirror=recipe.mirror,
        stale="rootfs-*.tar",
    )


def _customise(rootfs: Path, recipe: BaseRecipe) -> None:
    (rootfs / "etc/apt/sources.list").write_text(recipe.sources_list())
    for stale in (rootfs / "etc/apt/sources.list.d").glob("*"):
        stale.unlink()
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    shim = rootfs / "usr/local/sbin/ee-apt"
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(EE_APT)
    shim.chmod(0o755)
    # The host's extra CA certificates (an intercepting proxy may sit in front of PyPI).
    bundle = rootfs / "etc/ssl/certs/ca-certificates.crt"
    extra = hostimage.host_extra_certs(bundle.read_text(errors="replace"))
    local = rootfs / "usr/local/share/ca-certificates"
    local.mkdir(parents=True, exist_ok=True)
    for index, cert in enumerate(extra):
        (local / f"host-extra-{index:03d}.crt").write_text(cert + "\n")
    if extra:
        log(f"trusting {len(extra)} extra CA certificate(s) of the host")
        _run("chroot", str(rootfs), "update-ca-certificates", stdout=subprocess.DEVNULL)
    # The image's Python: a venv, first on PATH (Debian refuses pip, and ensurepip, which
    # ansible-builder runs, for its system Python; apt keeps that one).
    _run("chroot", str(rootfs), "python3", "-m", "venv", VENV)


def base() -> dict:
    """Build the base image unless one with the same recipe exists."""
    started = time.monotonic()
    recipe = BaseRecipe.from_host()
    found = hostimage.podman(
        "image", "inspect", "--format", f'{{{{index .Labels "{LABEL}"}}}}', BASE_IMAGE,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode == 0 and found.stdout.strip() == recipe.digest:
        return {"image": BASE_IMAGE, "built": False, "seconds": _since(started)}
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = _rootfs_tarball(recipe)
    work = BASE_CACHE / "rootfs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _run("tar", "--numeric-owner", "--xattrs", "-C", str(work), "-xf", str(tarball))
        _customise(work, recipe)
        log(f"podman import {BASE_IMAGE}")
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(work), "-c", "."],
            stdout=subprocess.PIPE,
        )
        hostimage.podman(
            "import",
            "--change", 'CMD ["/bin/bash"]',
            "--change", f"ENV PATH={VENV}/bin:{SYSTEM_PATH}",
            "--change", f"LABEL {LABEL}={recipe.digest}",
            "-", BASE_IMAGE,
            stdin=tar.stdout, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if tar.wait() != 0:
            raise RuntimeError("tar of the rootfs failed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"image": BASE_IMAGE, "built": True, "seconds": _since(started)}


# --------------------------------------------------------------------------- image


def definition() -> dict:
    return yaml.safe_load(DEFINITION.read_text())


def image_name() -> str:
    return definition()["options"]["tags"][0]


def installed_collections() -> dict[str, tuple[str, Path]]:
    """The controller's collections: name -> (version, folder), first in Ansible's search order."""
    out = _run(
        str(Path(sys.executable).parent / "ansible-galaxy"),
        "collection", "list", "--format", "json",
        cwd=ROOT, capture_output=True, text=True,
    ).stdout  # fmt: skip
    found: dict[str, tuple[str, Path]] = {}
    for path, collections in json.loads(out).items():
        for name, info in collections.items():
            namespace, collection = name.split(".")
            found.setdefault(name, (info["version"], Path(path) / namespace / collection))
    return found


def seed(context: Path) -> list[str]:
    """Copy the collections requirements.yml pins by name, and the collections they depend on
    (e.g. community.general's community.library_inventory_filtering_v1), from the controller
    into the build context's seed folder, refusing a version other than a pin."""
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    have = installed_collections()
    folder = context / "_build" / "seed" / "ansible_collections"
    shutil.rmtree(folder, ignore_errors=True)
    pending = [
        (item["name"], str(item["version"]))
        for item in wanted["collections"]
        if item.get("type") != "dir"
    ]
    seeded: dict[str, str] = {}
    while pending:
        name, pinned = pending.pop(0)
        if name in seeded:
            continue
        if name not in have or pinned not in ("", have[name][0]):
            found = have.get(name, ("none",))[0]
            raise SystemExit(f"offline build: {name} {pinned} pinned, the controller has {found}")
        version, source = have[name]
        namespace, collection = name.split(".")
        shutil.copytree(
            source,
            folder / namespace / collection,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        seeded[name] = version
        manifest = json.loads((source / "MANIFEST.json").read_text())
        pending += [(dep, "") for dep in manifest["collection_info"].get("dependencies") or {}]
    return [f"{name}:{version}" for name, version in seeded.items()]


def build() -> dict:
    started = time.monotonic()
    bin_dir = tools()
    result: dict = {"tools_seconds": _since(started)}
    result["base"] = base()
    step = time.monotonic()
    shutil.rmtree(CONTEXT, ignore_errors=True)
    _run(
        str(bin_dir / "ansible-builder"), "create",
        "-f", str(DEFINITION), "-c", str(CONTEXT), "--output-filename", "Containerfile",
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result["seeded"] = seed(CONTEXT)
    log(f"podman build {image_name()} (layers cached)")
    # AWS's bucket is unreachable offline: no session-manager-plugin unless it is given.
    plugin_url = os.environ.get("SESSION_MANAGER_PLUGIN_URL", "")
    hostimage.podman(
        "build", "--layers",
        "--build-arg", "ANSIBLE_GALAXY_CLI_COLLECTION_OPTS=--offline",
        "--build-arg", f"SESSION_MANAGER_PLUGIN_URL={plugin_url}",
        "-f", str(CONTEXT / "Containerfile"), "-t", image_name(), str(CONTEXT),
    )  # fmt: skip
    result["image"] = image_name()
    result["build_seconds"] = _since(step)
    result["seconds"] = _since(started)
    return result


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/ee.py")
    parser.add_argument("command", choices=["build", "base", "tools"])
    args = parser.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build()))
    elif args.command == "base":
        print(json.dumps(base()))
    else:
        print(tools())
    return 0


if __name__ == "__main__":
    sys.exit(main())

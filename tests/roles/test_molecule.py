"""Runs every Molecule scenario under molecule/ (create, converge, idempotence, verify, destroy).

Each scenario converges a role on a systemd container of the locally built test-host image
(local/hosts/image.py); the image is built once per session (instant when cached).
Times are printed and written to .cache/molecule-times.json.

    pytest -m slow tests/roles/test_molecule.py -k nginx
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.ansible import ROOT
from local.hosts import image as hostimage

MOLECULE = ROOT / "molecule"
# What every scenario shares (Molecule also finds it at the repository root by itself).
BASE_CONFIG = ROOT / ".config" / "molecule" / "config.yml"
SCENARIOS = sorted(p.parent.name for p in MOLECULE.glob("*/molecule.yml"))
TIMES = ROOT / ".cache" / "molecule-times.json"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def image(host_image: dict) -> dict:
    """The test-host image (conftest.host_image), with its build time recorded."""
    _record("image build" + ("" if host_image["built"] else " (cached)"), host_image["seconds"])
    return host_image


def _record(name: str, seconds: float) -> None:
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.is_file() else {}
    times[name] = round(seconds, 1)
    TIMES.write_text(json.dumps(times, indent=2, sort_keys=True) + "\n")
    print(f"\n{name}: {seconds:.1f} s")


@pytest.mark.podman
@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, image: dict) -> None:
    env = {
        **os.environ,
        **hostimage.env(),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "PY_COLORS": "0",
    }
    started = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "molecule"), "--base-config", str(BASE_CONFIG), "test", "-s", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    elapsed = time.monotonic() - started
    _record(f"molecule test -s {scenario}", elapsed)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]


# --------------------------------------------------------------------------- the image itself


def test_mirrors_read_from_apt_sources(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security/\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    assert hostimage.host_mirrors([deb822]) == (
        "http://mirror.example/debian",
        "http://mirror.example/debian-security",
    )
    oneline = tmp_path / "sources.list"
    oneline.write_text(
        "# comment\ndeb [arch=amd64] http://m.example/debian bookworm main\n"
        "deb http://s.example/debian-security bookworm-security main\n"
    )
    assert hostimage.host_mirrors([oneline]) == (
        "http://m.example/debian",
        "http://s.example/debian-security",
    )
    assert hostimage.host_mirrors([]) == (
        hostimage.DEFAULT_MIRROR,
        hostimage.DEFAULT_SECURITY_MIRROR,
    )


def test_containers_conf_follows_the_hard_limits() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    text = hostimage.containers_conf_text()
    if hard != resource.RLIM_INFINITY:
        assert f'"nofile={hard}:{hard}"' in text
    assert 'runtime = "runc"' in text
    assert 'cgroup_manager = "cgroupfs"' in text


@pytest.mark.podman
@pytest.mark.slow
def test_image_is_cached_and_boots_systemd(image: dict) -> None:
    again = hostimage.build()
    assert not again["built"]
    assert again["seconds"] < 5
    assert hostimage.image_label() == hostimage.Recipe.from_host().digest
    name = f"streamstack-image-check-{os.getpid()}"
    hostimage.podman("run", "-d", "--name", name, hostimage.IMAGE, capture_output=True)
    try:
        state = ""
        for _ in range(30):  # bounded: 15 s
            state = hostimage.podman(
                "exec",
                name,
                "systemctl",
                "is-system-running",
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        assert state == "running"
        checks = hostimage.podman(
            "exec",
            name,
            "sh",
            "-c",
            "stat -c %Y /var/lib/apt/lists; "
            "grep -c '^deb ' /etc/apt/sources.list; python3 -c 'import apt, packaging'",
            capture_output=True,
            text=True,
        ).stdout.split()
        assert checks == ["0", "3"]
    finally:
        hostimage.podman("rm", "-f", name, capture_output=True, check=False)

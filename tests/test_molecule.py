"""Runs every Molecule scenario under molecule/ (create, converge, idempotence, verify, destroy).

Each scenario converges a role on a systemd container of the locally built test-host image
(tests/harness/hostimage.py); the image is built once per session (instant when cached).
Times are printed and written to .cache/molecule-times.json.

    pytest -m slow tests/test_molecule.py -k nginx
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import hostimage
from tests.harness.ansible import ROOT

MOLECULE = ROOT / "molecule"
SCENARIOS = sorted(p.parent.name for p in MOLECULE.glob("*/molecule.yml"))
TIMES = ROOT / ".cache" / "molecule-times.json"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


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
        [str(BIN / "molecule"), "test", "-s", scenario],
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

"""make test's two halves (tests/harness/halves.py): run on a small project of their own, the
podman half runs the tests marked podman with the real podman, the other half refuses podman by
name, and a failure in either half fails the whole."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import halves

INI = """[pytest]
markers =
    podman: containers
    ee: the image
"""
CALLS_PODMAN = """import subprocess

def test_asks_podman_its_version():
    subprocess.run(["podman", "--version"], check=True, stdout=subprocess.DEVNULL)
"""


def _project(tmp_path: Path, files: dict[str, str]) -> list[str]:
    (tmp_path / "pytest.ini").write_text(INI)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return [
        "-c",
        str(tmp_path / "pytest.ini"),
        "--rootdir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
        "-rA",
        str(tmp_path),
    ]


@pytest.mark.skipif(
    shutil.which("podman", path="/usr/local/bin:/usr/bin:/bin") is None,
    reason="make test installs podman",
)
def test_podman_runs_only_in_the_podman_half(tmp_path):
    args = _project(
        tmp_path,
        {
            "test_marked.py": "import pytest\npytestmark = pytest.mark.podman\n" + CALLS_PODMAN,
            "test_unmarked.py": CALLS_PODMAN,
        },
    )
    assert halves.run(args, logs=tmp_path / "logs") == 1
    podman = (tmp_path / "logs" / "test-podman.log").read_text()
    others = (tmp_path / "logs" / "test-others.log").read_text()
    assert re.search(r"PASSED \S*test_marked.py::test_asks_podman_its_version", podman)
    assert re.search(r"FAILED \S*test_unmarked.py::test_asks_podman_its_version", others)
    assert "refused in the half of make test that runs the tests not marked podman" in others


def test_a_half_with_nothing_selected_passes_when_the_other_ran(tmp_path):
    args = _project(tmp_path, {"test_plain.py": "def test_ok():\n    assert True\n"})
    assert halves.run(args, logs=tmp_path / "logs") == 0
    assert "1 deselected" in (tmp_path / "logs" / "test-podman.log").read_text()


def test_the_callers_own_marker_runs_once_unsplit(tmp_path):
    args = _project(tmp_path, {"test_plain.py": "def test_ok():\n    assert True\n"})
    assert halves.run([*args, "-m", "not podman"], logs=tmp_path / "logs") == 0
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    ("codes", "verdict"),
    [
        ({"podman": 0, "others": 0}, 0),
        ({"podman": 5, "others": 0}, 0),
        ({"podman": 0, "others": 1}, 1),
        ({"podman": 2, "others": 0}, 2),
        ({"podman": 5, "others": 5}, 5),
    ],
)
def test_the_verdict_is_the_first_failing_half(codes, verdict):
    assert halves.verdict(codes) == verdict


def test_make_test_runs_the_halves():
    makefile = (halves.ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest: ", 1)[1].split("\n\n", 1)[0]
    assert "python -m tests.harness.halves $(PYTEST_ARGS)" in recipe
    assert (
        subprocess.run(
            [sys.executable, "-c", "import tests.harness.halves"], cwd=halves.ROOT
        ).returncode
        == 0
    )

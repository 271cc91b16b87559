"""streamapp.cgroups: each ffmpeg/ffprobe that reads an upload in a cgroup of its own.

The kernel's side (limits enforced, the OOM kill inside the child, the worker surviving) is
proven on a real delegated cgroup in molecule/app (test_a_file_whose_ffmpeg_outgrows_its_own_
cgroup_fails_alone). Here, on a stand-in tree shaped like /sys/fs/cgroup: what the app writes
where (cgroup v2 and v1), that a tool is in its cgroup before it execs, how the kernel's OOM
count becomes the job's error, and the logged behaviour without a delegated cgroup.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamapp import cgroups, transcode
from streamapp.config import Settings
from streamapp.probe import MediaInfo

UNIT = "system.slice/streamapp-worker.service"


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    cgroups.reset_for_tests()
    yield
    cgroups.reset_for_tests()


def _delegated(path: Path) -> None:
    """What systemd's Delegate= leaves: the unit's cgroup is the service user's (here: this
    test's user; for root, systemd's trusted.delegate mark)."""
    if os.geteuid() == 0:
        os.setxattr(path, "trusted.delegate", b"1")


@pytest.fixture
def v2(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "cgroup"
    unit = root / UNIT
    unit.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    (unit / "cgroup.controllers").write_text("cpu memory pids\n")
    (unit / "cgroup.procs").write_text(f"{os.getpid()}\n")
    (unit / "cgroup.subtree_control").write_text("")
    _delegated(unit)
    return root, f"0::/{UNIT}\n"


def test_without_a_delegated_cgroup_media_runs_as_before_and_the_log_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A developer's shell or this test run: no delegated cgroup (here: not systemd's, or a v1
    hierarchy), so media processes run in the process's cgroup, and the log says so once."""
    with caplog.at_level(logging.WARNING, logger="streamapp.cgroups"):
        assert cgroups.enter() is None
        assert cgroups.enter() is None
        with cgroups.child(cgroups.Limits(memory_bytes=1 << 30)) as media:
            assert media.wrap(["ffmpeg", "-i", "x"]) == ["ffmpeg", "-i", "x"]
    warnings = [r for r in caplog.records if r.name == "streamapp.cgroups"]
    assert len(warnings) == 1, warnings
    assert "without limits of their own" in warnings[0].getMessage()
    assert "not delegated" in warnings[0].reason  # type: ignore[attr-defined]


def test_v2_the_process_moves_to_a_leaf_and_each_tool_gets_its_own_limits(
    v2: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, proc_cgroup = v2
    unit = root / UNIT
    delegation = cgroups.enter(root, proc_cgroup)
    assert delegation is not None and delegation.version == 2
    assert (unit / "main" / "cgroup.procs").read_text() == str(os.getpid())
    assert (unit / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    removed: list[Path] = []
    monkeypatch.setattr(cgroups, "_remove", removed.append)  # a stand-in tree keeps its files
    with cgroups.child(cgroups.Limits(200 * 1024**2, 64, 150)) as media:
        (child,) = media.dirs.values()
        assert child.parent == unit and child.name.startswith("media-")
        assert (child / "memory.max").read_text() == str(200 * 1024**2)
        assert (child / "pids.max").read_text() == "64"
        assert (child / "cpu.max").read_text() == "150000 100000"
        # The tool prints its own pid: the wrapper wrote that pid into the child's
        # cgroup.procs and then exec'd it, so it was inside before its first instruction.
        proc = subprocess.run(
            media.wrap(["sh", "-c", "echo $$"]), capture_output=True, text=True, check=True
        )
        assert (child / "cgroup.procs").read_text().strip() == proc.stdout.strip()
    assert removed == [child]


def test_v2_a_cgroup_that_refuses_the_tool_is_an_error_not_a_silent_run(
    v2: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, proc_cgroup = v2
    cgroups.enter(root, proc_cgroup)
    monkeypatch.setattr(cgroups, "_remove", lambda _path: None)
    with cgroups.child(cgroups.Limits()) as media:
        (child,) = media.dirs.values()
        (child / "cgroup.procs").mkdir()  # writing it fails, as a refused migration would
        proc = subprocess.run(media.wrap(["true"]), capture_output=True, check=False)
        with pytest.raises(cgroups.CgroupError, match="could not enter its cgroup"):
            media.check_joined(proc.returncode, proc.stderr)


def test_v1_each_hierarchy_gets_its_limit_and_cpu_stays_within_the_units(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    lines = []
    for number, controller in enumerate(("memory", "pids", "cpu"), start=1):
        unit = root / controller / UNIT
        unit.mkdir(parents=True)
        (unit / "cgroup.procs").write_text("")
        _delegated(unit)
        lines.append(f"{number}:{controller}:/{UNIT}")
    (root / "cpu" / UNIT / "cpu.cfs_quota_us").write_text("190000\n")
    delegation = cgroups.enter(root, "\n".join(lines) + "\n0::/init.scope\n")
    assert delegation is not None and delegation.version == 1
    media = cgroups.Child(delegation, cgroups.Limits(100 * 1024**2, 32, 400))
    media.create()
    assert (media.dirs["memory"] / "memory.limit_in_bytes").read_text() == str(100 * 1024**2)
    assert (media.dirs["pids"] / "pids.max").read_text() == "32"
    assert (media.dirs["cpu"] / "cpu.cfs_quota_us").read_text() == "190000"  # the unit's
    assert len(media.wrap(["ffmpeg"])) == 5 + 3 + 1  # sh -c script name count + 3 files + argv


def test_the_kernels_oom_kill_in_ffmpegs_cgroup_fails_the_job_with_its_reason(
    v2: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ladder's ffmpeg outgrows its own memory.max: the kernel kills it and counts it in
    the cgroup's memory.events; the job fails with that reason (stand-in: a tool that records
    the count where the kernel would, then dies as the OOM killer kills)."""
    root, proc_cgroup = v2
    cgroups.enter(root, proc_cgroup)
    monkeypatch.setattr(cgroups, "_remove", lambda _path: None)
    unit = root / UNIT
    stand_in = [
        "sh",
        "-c",
        f'for f in {unit}/media-*/cgroup.procs; do grep -qx "$$" "$f" && '
        'echo "oom_kill 1" > "${f%/cgroup.procs}/memory.events"; done; kill -9 "$$"',
    ]
    monkeypatch.setattr(transcode, "command", lambda *_args: stand_in)
    settings = Settings(ffmpeg_memory_max="200M")
    info = MediaInfo(kind="audio", duration=10, width=0, height=0, fps=0, has_audio=True)
    with pytest.raises(transcode.TranscodeError, match=r"its memory limit \(200 MiB\)"):
        transcode.run_ladder(settings, info, tmp_path / "source", tmp_path, [], lambda _: None)


@pytest.mark.parametrize(
    "value, expected",
    [("0", 0), ("512", 512), ("200M", 200 * 1024**2), ("2G", 2 * 1024**3), ("70%", 700)],
)
def test_memory_sizes(value: str, expected: int) -> None:
    assert cgroups.memory_bytes(value, total=1000) == expected

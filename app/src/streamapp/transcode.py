"""Run the ladder's single ffmpeg process, reporting progress and enforcing a time limit."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from streamapp import cgroups
from streamapp.config import Settings
from streamapp.ladder import AUDIO_RENDITION, Rendition, command, finish_master
from streamapp.probe import MediaInfo


class TranscodeError(RuntimeError):
    pass


def _first_to_go_out_of_memory(argv: list[str]) -> list[str]:
    """``argv`` as the OOM killer's first choice: a hostile file that makes ffmpeg outgrow the
    worker unit's MemoryMax gets ffmpeg killed, never the worker that reports the failure
    (raising one's own score needs no privilege; choom: util-linux, always on Debian). In a
    cgroup of its own (streamapp.cgroups) ffmpeg meets its own memory.max first."""
    return ["choom", "-n", "1000", "--", *argv]


def run_ladder(
    settings: Settings,
    info: MediaInfo,
    source: Path,
    out_dir: Path,
    rungs: list[Rendition],
    on_progress: Callable[[float], None],
) -> float:
    """Transcode; return the wall time. ``on_progress`` gets 0..1 as ffmpeg advances."""
    for name in [r.name for r in rungs] + ([AUDIO_RENDITION] if info.kind == "video" else []):
        (out_dir / name).mkdir(parents=True, exist_ok=True)
    cmd = _first_to_go_out_of_memory(command(settings, info, str(source), out_dir, rungs))
    duration_us = max(info.duration, 0.001) * 1_000_000
    memory = cgroups.memory_bytes(settings.ffmpeg_memory_max)
    start = time.monotonic()
    with (
        tempfile.TemporaryFile() as stderr,
        cgroups.child(cgroups.limits(settings, memory)) as media,
    ):
        proc = subprocess.Popen(
            media.wrap(cmd),
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
        # A watchdog, because a wedged ffmpeg prints nothing and readline would wait forever.
        watchdog = threading.Timer(settings.transcode_timeout_seconds, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                key, _, value = raw.decode(errors="replace").strip().partition("=")
                if key == "out_time_us" and value.isdigit():
                    on_progress(min(int(value) / duration_us, 0.99))
            code = proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        elapsed = time.monotonic() - start
        stderr.seek(0)
        said = stderr.read()[-2000:]
        media.check_joined(code, said)
    # The kernel's own count, read as the cgroup went: the file outgrew ffmpeg's memory.max.
    if media.oom_killed:
        raise TranscodeError(
            f"ffmpeg was killed: it used more than its memory limit ({memory // 1024**2} MiB)"
            if memory
            else "ffmpeg was killed: out of memory"
        )
    if code != 0:
        tail = said.decode(errors="replace").strip().splitlines()
        if elapsed >= settings.transcode_timeout_seconds:
            raise TranscodeError(f"ffmpeg timed out after {settings.transcode_timeout_seconds}s")
        if code == -9:
            raise TranscodeError("ffmpeg was killed: out of memory")
        reason = tail[-1] if tail else f"exit status {code}"
        raise TranscodeError(f"ffmpeg failed: {reason}")
    if not (out_dir / "master.m3u8").is_file():
        raise TranscodeError("ffmpeg produced no master playlist")
    finish_master(out_dir)
    return elapsed

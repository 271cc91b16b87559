"""What the background processes of `make up` (local.alb, local.ec2, local.beanstalk) share:
started detached with a pid file in their state folder, found again by that file and their
command line (never by name), stopped with SIGTERM (then SIGKILL), idempotently.

    proc = daemon.spawn(module, ["serve", "--state", str(state), ...], state / "x.log")
    daemon.ours(state / "x.pid", module, state)   # its pid if that `serve` still runs
    daemon.stop(pid)                              # SIGTERM, SIGKILL after `timeout`
    daemon.start(module, args, log, ready, what, timeout)  # spawn, then wait for ready(proc)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from local import ROOT


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def ours(pid_file: Path, module: str, state: Path) -> int | None:
    """The pid in ``pid_file`` if it is a ``python -m module serve`` for this state folder."""
    pid = read_pid(pid_file)
    args = cmdline(pid) if pid else []
    if pid and "serve" in args and str(state) in args and module in args:
        return pid
    return None


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            return True
        time.sleep(0.1)
    return not Path(f"/proc/{pid}").exists()


def stop(pid: int, timeout: float = 15) -> None:
    """SIGTERM, and SIGKILL when it is still there after ``timeout`` seconds."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)


def spawn(module: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m module args`` in a session of its own, output appended to ``log``."""
    handle = open(log, "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )


def start(
    module: str,
    args: list[str],
    log: Path,
    ready: Callable[[subprocess.Popen[bytes]], bool],
    what: str,
    timeout: float,
    poll: float = 0.2,
) -> int:
    """Spawns ``python -m module args`` and waits for ``ready(proc)``: 0 once it is, 1 (with the
    log's tail or where to read it) when the process exits first or is not ready in time."""
    proc = spawn(module, args, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(log.read_text()[-3000:], file=sys.stderr)
            return 1
        if ready(proc):
            print(f"    {what}: pid {proc.pid} (log {log})")
            return 0
        time.sleep(poll)
    print(f"{module}: {what} not ready after {timeout:.0f} s; see {log}", file=sys.stderr)
    return 1

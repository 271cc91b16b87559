"""make test in two halves at once: the tests marked ``podman`` (containers, the machine-global
part: Molecule, make up, the patch and Beanstalk stand-in proofs) and all the others, each in
its own pytest process with its own emulator and PostgreSQL (tests/conftest.py keys their state
by process). The podman half mostly waits on containers booting and hosts converging, the other
half on playbooks and the emulator, so on 2 cores the two overlap instead of queueing.

In the other half, ``podman`` on PATH refuses to run (tests/harness/no_podman/podman), so a test
that starts containers without the marker fails by name instead of racing the podman half.
Each half's output goes to .cache/test-<half>.log and is printed whole when that half ends;
the exit status is the first failing half's (5, nothing collected, counts as passed when the
other half ran tests, e.g. `make test PYTEST_ARGS=tests/app`).

    python -m tests.harness.halves [pytest arguments]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUARD = Path(__file__).resolve().parent / "no_podman"
NOTHING_COLLECTED = 5
# addopts' own -m ('not ee') is replaced by each half's.
HALVES = {
    "podman": "podman and not ee",
    "others": "not podman and not ee",
}


def command(marker: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-m", marker, "--durations=30", *args]


def run(args: list[str], logs: Path = ROOT / ".cache") -> int:
    if "-m" in args or any(a.startswith("-m") and len(a) > 2 for a in args):
        # A marker of the caller's own: one run, as asked.
        return subprocess.call([sys.executable, "-m", "pytest", "--durations=30", *args])
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    procs: dict[str, tuple[subprocess.Popen, Path]] = {}
    for half, marker in HALVES.items():
        # Run from within a half (this module's own test), the guard may already be on PATH.
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != str(GUARD)]
        env = {
            **os.environ,
            "PATH": os.pathsep.join(path if half == "podman" else [str(GUARD), *path]),
        }
        log = logs / f"test-{half}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                command(marker, args), stdout=out, stderr=subprocess.STDOUT, env=env
            )
        procs[half] = (proc, log)
    print(f"make test: two halves at once, logs in {logs}/test-{{{','.join(HALVES)}}}.log")
    codes, seconds = {}, {}
    pending = dict(procs)
    try:
        _wait(pending, codes, seconds, started)
    finally:
        for proc, _log in pending.values():  # interrupted: no half outlives make test
            proc.terminate()
    for half in HALVES:
        print(f"make test: {half} half exit {codes[half]}, {seconds[half]:.0f} s")
    return verdict(codes)


def _wait(pending: dict, codes: dict[str, int], seconds: dict[str, float], started: float) -> None:
    while pending:
        for half, (proc, log) in list(pending.items()):
            if proc.poll() is None:
                continue
            codes[half], seconds[half] = proc.returncode, time.monotonic() - started
            del pending[half]
            print(f"\n===== {half} half: exit {proc.returncode} after {seconds[half]:.0f} s =====")
            sys.stdout.write(log.read_text(errors="replace"))
            sys.stdout.flush()
        time.sleep(1)


def verdict(codes: dict[str, int]) -> int:
    ran = [c for c in codes.values() if c != NOTHING_COLLECTED]
    if not ran:
        return NOTHING_COLLECTED
    return next((c for c in ran if c != 0), 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))

"""Wall time of `make up` from no baked hosts, of `make down`, and of `make up` again (hosts
started from the images the first run baked), with each run's phases as `make up` reports them.

    .venv/bin/python bench/up.py [--web 2] [--workers 1]

It runs python -m local up and down (what `make up`/`make down` run after `make deps`) with a
fleet, state folders, a load-balancer port and a baked-image repository of its own, so a
developer's running `make up` and baked hosts are not touched. The first run starts with no
baked hosts of that repository; the test-host image, .venv and the hosts' apt and pip caches are
reused as they are (the first run of all on a machine also builds those). The load average is
printed with the numbers: other work on the machine inflates them.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.hosts import bake as hostbake  # noqa: E402
from local.hosts import image as hostimage  # noqa: E402

STATE = ROOT / ".cache" / "bench-up"
ENV = {
    "UP_FLEET": "benchup",
    "UP_STATE_DIR": str(STATE / "up"),
    "EMULATOR_STATE_DIR": str(STATE / "emulator"),
    "PG_STATE_DIR": str(STATE / "postgres"),
    "UP_PORT": "0",
    "UP_BAKE_REPO": "localhost/streamstack-baked-bench",
}
STEP = re.compile(r"==> (.*?)\x1b\[0m \((\d+) s\)")
TIMEOUT = 3600


def run(script: str, env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "local", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"python -m local {script} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def phases(stdout: str) -> list[tuple[str, int]]:
    """[(step, seconds)] from `make up`'s '==> step (N s)' lines (N: since the start)."""
    steps = [(name, int(at)) for name, at in STEP.findall(stdout)]
    return [(name, nxt - at) for (name, at), (_, nxt) in itertools.pairwise(steps)]


def show(title: str, seconds: float, stdout: str) -> None:
    print(f"{title}: {seconds:.0f} s (load {os.getloadavg()[0]:.2f})")
    for name, took in phases(stdout):
        if took:
            print(f"    {took:>4} s  {name[:90]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STREAMAPP_"))}
    env |= ENV | hostimage.env() | {"UP_WEB": str(args.web), "UP_WORKERS": str(args.workers)}
    print(f"make up: {args.web} web + {args.workers} worker hosts, load {os.getloadavg()[0]:.2f}")
    run("down", env)  # what an interrupted run left
    hostbake.remove(ENV["UP_BAKE_REPO"])
    try:
        first, out = run("up", env)
        show("make up, no baked hosts", first, out)
        down, _ = run("down", env)
        print(f"make down: {down:.0f} s")
        again, out = run("up", env)
        show("make up again, hosts from the baked images", again, out)
        print(f"again / first: {again / first:.2f} ({first / again:.1f}x faster)")
    finally:
        run("down", env)
        hostbake.remove(ENV["UP_BAKE_REPO"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

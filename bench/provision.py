"""Wall time of provisioning the whole platform on the emulator: first run, no-op re-run,
check mode. Each measurement runs on a fresh emulator of its own (first run) or the same
provisioned one (re-runs). Also prints the CPU seconds ansible-playbook and its module
processes used (the emulator's own CPU is not counted) and the load average, since other work
on the machine inflates the wall times.

    .venv/bin/python bench/provision.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness import prepared_account  # noqa: E402
from tests.harness.ansible import run_playbook  # noqa: E402
from tests.harness.emulator import Emulator  # noqa: E402

PLAYBOOK = ROOT / "playbooks" / "provision.yml"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(**kwargs) -> tuple[float, int, float]:
    """(wall seconds, changed count, CPU seconds of ansible-playbook and its children)."""
    cpu = children_cpu()
    started = time.monotonic()
    result = run_playbook(PLAYBOOK, **kwargs)
    elapsed = time.monotonic() - started
    if not result.ok:
        sys.exit(f"provision failed:\n{result.messages()}")
    return elapsed, result.changed, children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds (fresh emulator each)")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"first run": [], "no-op re-run": [], "--check": []}
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as state:
            emulator = Emulator(state_dir=Path(state))
            emulator.start()
            os.environ.update(emulator.env())
            prepared_account.prepare(
                lambda service, emu=emulator: boto3.client(
                    service, region_name=emu.region, endpoint_url=emu.endpoint
                )
            )
            try:
                extra = {"aws_endpoint_url": emulator.endpoint}
                runs = {
                    "first run": {},
                    "no-op re-run": {},
                    "--check": {"check": True},
                }
                said = []
                for name, options in runs.items():
                    wall, changed, used = timed(extra_vars=extra, **options)
                    rows[name].append(wall)
                    cpu[name].append(used)
                    loads.append(os.getloadavg()[0])
                    said.append(f"{name} {wall:.1f}s ({used:.1f} CPU-s, changed={changed})")
                print("round: " + ", ".join(said), flush=True)
            finally:
                emulator.stop()
    print(
        f"\nprovision.yml on the emulator, {os.cpu_count()} cores, {args.repeat} round(s),"
        f" 1-min load average {min(loads):.1f}-{max(loads):.1f}:"
    )
    for name, values in rows.items():
        print(
            f"  {name:<14} median {statistics.median(values):6.1f} s   min {min(values):6.1f} s"
            f"   CPU median {statistics.median(cpu[name]):5.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

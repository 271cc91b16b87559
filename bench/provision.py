"""Wall time of provisioning the whole platform on the emulator: first run, no-op re-run,
check mode. Each measurement runs on a fresh emulator of its own (first run) or the same
provisioned one (re-runs). The re-runs are measured twice, alternately: with the inventory's
connection (streamstack.aws.local_forkserver: modules forked from a pre-warmed Python) and with
ansible.builtin.local (a new Python process per module), so both see the same machine load.
Also prints the CPU seconds ansible-playbook and its module processes used (the fork server's
children are not ansible-playbook's: its CPU is not counted; the emulator's is never counted)
and the load average, since other work on the machine inflates the wall times.

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
LOCAL = {"ansible_connection": "ansible.builtin.local"}
# name: (run_playbook options, extra vars choosing the connection); re-runs alternate.
RUNS = {
    "first run": ({}, {}),
    "no-op re-run": ({}, {}),
    "no-op re-run (local)": ({}, LOCAL),
    "--check": ({"check": True}, {}),
    "--check (local)": ({"check": True}, LOCAL),
}


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
    rows: dict[str, list[float]] = {name: [] for name in RUNS}
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
                said = []
                for name, (options, connection) in RUNS.items():
                    wall, changed, used = timed(extra_vars={**extra, **connection}, **options)
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
        forked = not RUNS[name][1]
        print(
            f"  {name:<24} median {statistics.median(values):6.1f} s   min {min(values):6.1f} s"
            f"   CPU median {statistics.median(cpu[name]):5.1f} s"
            + (" (without the fork server's modules)" if forked else "")
        )
    for run in ("no-op re-run", "--check"):
        ratio = statistics.median(rows[f"{run} (local)"]) / statistics.median(rows[run])
        print(f"  {run}: the fork server is {ratio:.1f} times as fast as a process per module")
    return 0


if __name__ == "__main__":
    sys.exit(main())

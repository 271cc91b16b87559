"""Wall time of provisioning the whole platform on the emulator, ours beside a naive anchor
(issue 17 part 3): first run, no-op re-run and `--check --diff` plan of playbooks/provision.yml
and of bench/anchor/provision.yml (the same architecture, one upstream-module task per resource,
a process per module: bench/anchor/README.md).

Each playbook provisions its own fresh emulator (same preparation, bench/provision.py's
account): neither run sees the other's resources, and each run's describe calls answer from
an account holding exactly one environment. The re-runs alternate (ours, anchor, ours,
anchor) so both see the same machine load. Also prints the CPU seconds ansible-playbook and
its module processes used (the fork server's children are not ansible-playbook's: their CPU
is not counted; the emulators' never is) and the load average, since other work on the machine
inflates the wall times. `--local` adds our re-runs with ansible.builtin.local (a new Python
per module) to the alternation: the fork server's own gain.

    .venv/bin/python bench/provision.py [--repeat N] [--local]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local import prepared_account  # noqa: E402
from local.ansible import run_playbook  # noqa: E402
from local.emulator import Emulator, operator_client  # noqa: E402

OURS = ROOT / "playbooks" / "provision.yml"
ANCHOR = ROOT / "bench" / "anchor" / "provision.yml"
LOCAL = {"ansible_connection": "ansible.builtin.local"}
PLAN = {"check": True, "diff": True}


@dataclass
class Side:
    """One playbook on its own emulator."""

    playbook: Path
    state: Path
    inventory: str | None = None
    extra_vars: dict = field(default_factory=dict)
    emulator: Emulator = field(init=False)

    def start(self) -> None:
        self.emulator = Emulator(state_dir=self.state / "emulator")
        endpoint = self.emulator.start()
        prepared_account.prepare(lambda service: operator_client(endpoint, service))
        if self.playbook == OURS:
            self.extra_vars["aws_endpoint_url"] = endpoint


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(side: Side, connection: dict, options: dict) -> tuple[float, list[str], float]:
    """(wall seconds, the changed tasks, CPU seconds of ansible-playbook and its children)."""
    cpu = children_cpu()
    started = time.monotonic()
    result = run_playbook(
        side.playbook,
        inventory=side.inventory,
        extra_vars={**side.extra_vars, **connection},
        env=side.emulator.env(),
        **options,
    )
    elapsed = time.monotonic() - started
    if not result.ok:
        sys.exit(f"{side.playbook.relative_to(ROOT)} failed:\n{result.messages()}")
    return elapsed, result.changed_tasks(), children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds (fresh emulators each)")
    parser.add_argument("--local", action="store_true", help="also ours with a process per module")
    args = parser.parse_args()
    # name: (side, connection extra vars, run_playbook options); this order, every round.
    runs = {
        "ours: first run": ("ours", {}, {}),
        "anchor: first run": ("anchor", {}, {}),
        "ours: no-op re-run": ("ours", {}, {}),
        "anchor: no-op re-run": ("anchor", {}, {}),
        "ours: --check --diff": ("ours", {}, PLAN),
        "anchor: --check --diff": ("anchor", {}, PLAN),
    }
    if args.local:
        runs["ours (local): no-op re-run"] = ("ours", LOCAL, {})
        runs["ours (local): --check --diff"] = ("ours", LOCAL, PLAN)
    rows: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    changed: dict[str, list[int]] = {name: [] for name in runs}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            sides = {
                "ours": Side(OURS, state / "ours"),
                "anchor": Side(
                    ANCHOR,
                    state / "anchor",
                    inventory="localhost,",
                    extra_vars={"anchor_signing_key_file": str(state / "anchor-signing.pem")},
                ),
            }
            try:
                for side in sides.values():
                    side.start()
                said = []
                for name, (side, connection, options) in runs.items():
                    wall, tasks, used = timed(sides[side], connection, options)
                    rows[name].append(wall)
                    cpu[name].append(used)
                    changed[name].append(len(tasks))
                    loads.append(os.getloadavg()[0])
                    said.append(f"{name} {wall:.1f}s ({used:.1f} CPU-s, changed={len(tasks)})")
                    # A re-run's changes, by name (the anchor's upstream modules have some).
                    named = f": {'; '.join(tasks)}" if tasks and "first run" not in name else ""
                    print(said[-1] + named, flush=True)
                print("round: " + ", ".join(said), flush=True)
            finally:
                for side in sides.values():
                    if hasattr(side, "emulator"):
                        side.emulator.stop()
    print(
        f"\nprovision on the emulator, ours vs the anchor, {os.cpu_count()} cores,"
        f" {args.repeat} round(s), 1-min load average {min(loads):.1f}-{max(loads):.1f}:"
    )
    for name, values in rows.items():
        forked = name.startswith("ours:")
        print(
            f"  {name:<30} median {statistics.median(values):6.1f} s   min {min(values):6.1f} s"
            f"   CPU median {statistics.median(cpu[name]):5.1f} s   changed {changed[name]}"
            + (" (without the fork server's modules)" if forked else "")
        )
    for run in ("no-op re-run", "--check --diff"):
        ratio = statistics.median(rows[f"anchor: {run}"]) / statistics.median(rows[f"ours: {run}"])
        print(f"  {run}: anchor / ours = {ratio:.1f} (goal: 4 or more, ours <= 8 s)")
        if args.local:
            local = statistics.median(rows[f"ours (local): {run}"]) / statistics.median(
                rows[f"ours: {run}"]
            )
            print(f"  {run}: the fork server is {local:.1f} times as fast as a process per module")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall time of provisioning the whole platform on the emulator, ours beside a naive anchor
(issue 17 part 3): first run, no-op re-run and `--check --diff` plan of playbooks/provision.yml
and of bench/anchor/provision.yml (the same architecture, one upstream-module task per resource,
a process per module: bench/anchor/README.md).

Each playbook provisions its own fresh emulator (same preparation, bench/provision.py's
account): neither run sees the other's resources, and each run's describe calls answer from
an account holding exactly one environment. The re-runs alternate (ours, anchor, ours,
anchor) so both see the same machine load. Also prints the CPU seconds ansible-playbook and
its module processes used - the fork server's too where each run can have a cgroup of its own
(cgroup v1 cpuacct or v2, as root), else only ansible-playbook's children, which the fork
server is not; the emulators' never - and the load average, since other work on the machine
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
from contextlib import contextmanager
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


# (folder of the hierarchy, file of the group's CPU nanoseconds or None: cpu.stat's usage_usec)
CGROUPS = (("/sys/fs/cgroup/cpuacct", "cpuacct.usage"), ("/sys/fs/cgroup", None))


@contextmanager
def cpu_counted():
    """Yield a function giving the CPU seconds of every process started meanwhile by this one
    (the run's cgroup: detached ones included), or None where no cgroup can be made."""
    for root, usage_file in CGROUPS:
        group = Path(root) / f"streamstack-bench-{os.getpid()}"
        if not (Path(root) / "cgroup.procs").exists():
            continue  # no such hierarchy here
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            (group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            group.rmdir()
            continue

        def used(group=group, usage_file=usage_file) -> float:
            if usage_file:
                return int((group / usage_file).read_text()) / 1e9
            stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6

        try:
            yield used
        finally:
            (Path(root) / "cgroup.procs").write_text(str(os.getpid()))
            deadline = time.monotonic() + 10  # the fork server leaves with its run
            while True:
                try:
                    group.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
        return
    yield None


def timed(side: Side, connection: dict, options: dict) -> tuple[float, list[str], float, bool]:
    """(wall seconds, the changed tasks, CPU seconds of ansible-playbook and its processes,
    whether the fork server's are counted)."""
    cpu = children_cpu()
    started = time.monotonic()
    with cpu_counted() as used:
        result = run_playbook(
            side.playbook,
            inventory=side.inventory,
            extra_vars={**side.extra_vars, **connection},
            env=side.emulator.env(),
            **options,
        )
        elapsed = time.monotonic() - started
        # Where a cgroup counts it, the fork server's CPU until it left with its run.
        time.sleep(0.3 if used else 0)
        counted = used() if used else children_cpu() - cpu
    if not result.ok:
        sys.exit(f"{side.playbook.relative_to(ROOT)} failed:\n{result.messages()}")
    return elapsed, result.changed_tasks(), counted, used is not None


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
    whole = True  # every run's CPU counted with the fork server's
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
                    wall, tasks, used, counted = timed(sides[side], connection, options)
                    whole = whole and counted
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
        forked = name.startswith("ours:") and not whole
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

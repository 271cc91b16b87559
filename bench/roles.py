"""Wall time of the host roles on a fresh podman host: a full converge, then a re-converge with
nothing to do (changed=0 asserted) and a --check --diff run (changed=0 asserted), with task
counts and where the time goes (per task, per role, per module).

For each node kind (web, worker) a fresh systemd container of the test-host image
(local/hosts/image.py) is started under a name of its own (the pid is part of it, so it
never collides with Molecule's or another bench's), prepared with the Molecule scenario's
prepare.yml (PostgreSQL, moto, the stand-in agent package: not timed as converge), converged
with the scenario's converge.yml, and removed again. The project's ansible.cfg applies (the
one playbooks/configure.yml runs with), with a fact cache of this run's own.

    .venv/bin/python bench/roles.py [--node web|worker|both] [--repeat N] [--top N]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.ansible import PlaybookResult, run_playbook  # noqa: E402
from local.hosts import image as hostimage  # noqa: E402

SCENARIOS = {"web": ROOT / "molecule" / "web_node", "worker": ROOT / "molecule" / "worker_node"}
# Actions Ansible runs on the controller without a module execution on the host.
CONTROLLER_ACTIONS = {
    "ansible.builtin.assert",
    "ansible.builtin.set_fact",
    "ansible.builtin.meta",
    "ansible.builtin.debug",
    "ansible.builtin.include_tasks",
    "ansible.builtin.include_role",
    "ansible.builtin.validate_argument_spec",
}


def on_controller(action: str) -> bool:
    return action in CONTROLLER_ACTIONS or f"ansible.builtin.{action}" in CONTROLLER_ACTIONS


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


class Host:
    """One fresh systemd container of the test-host image, removed on exit."""

    def __init__(self, node: str):
        self.name = f"streamstack-bench-{node}-{os.getpid()}"

    def __enter__(self) -> Host:
        hostimage.podman("rm", "-f", self.name, capture_output=True, check=False)
        hostimage.podman(
            "run", "-d", "--name", self.name, "--hostname", self.name, "--systemd=always",
            hostimage.IMAGE, "/sbin/init", capture_output=True,
        )  # fmt: skip
        state = ""
        deadline = time.monotonic() + 60  # bounded: systemd is up in a few seconds
        while time.monotonic() < deadline:
            state = hostimage.podman(
                "exec", self.name, "systemctl", "is-system-running",
                capture_output=True, text=True, check=False,
            ).stdout.strip()  # fmt: skip
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"{self.name}: systemd did not come up ({state!r})")
        return self

    def __exit__(self, *exc) -> None:
        hostimage.podman("rm", "-f", "-t", "5", self.name, capture_output=True, check=False)


def task_rows(result: PlaybookResult) -> list[dict]:
    """One row per task that ran on the host: name, role, action, seconds, status."""
    rows = []
    for play in result.plays:
        for task in play.get("tasks", []):
            info = task["task"]
            duration = info.get("duration", {})
            try:
                start = datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
                end = datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
                seconds = (end - start).total_seconds()
            except (KeyError, ValueError):
                seconds = 0.0
            for res in task.get("hosts", {}).values():
                action = res.get("action", "")
                status = (
                    "skipped"
                    if res.get("skipped")
                    else "changed"
                    if res.get("changed")
                    else "failed"
                    if res.get("failed")
                    else "ok"
                )
                name = info["name"]
                role = name.split(" : ", 1)[0] if " : " in name else "(play)"
                rows.append(
                    {
                        "name": name,
                        "role": role,
                        "action": action,
                        "seconds": seconds,
                        "status": status,
                        "loop": len(res.get("results", [])),
                    }
                )
    return rows


def converge(scenario: Path, inventory: Path, env: dict, *, check: bool = False) -> tuple:
    started = time.monotonic()
    result = run_playbook(
        scenario / "converge.yml",
        inventory=inventory,
        env=env,
        check=check,
        diff=check,
        timeout=1800,
    )
    elapsed = time.monotonic() - started
    if not result.ok:
        sys.exit(f"{scenario.name} converge failed:\n{result.messages()[-6000:]}")
    return elapsed, result


def summary(label: str, seconds: float, result: PlaybookResult, top: int) -> None:
    rows = task_rows(result)
    ran = [r for r in rows if r["status"] != "skipped"]
    remote = [r for r in ran if not on_controller(r["action"])]
    executions = sum(max(r["loop"], 1) for r in remote)
    print(
        f"  {label}: {seconds:6.1f} s  changed={result.changed}  tasks: {len(rows)} "
        f"({len(ran)} ran, {len(rows) - len(ran)} skipped; {len(remote)} on the host = "
        f"{executions} module executions counting loop items)  [{load()}]"
    )
    if remote:
        per = [r["seconds"] / max(r["loop"], 1) for r in remote]
        print(
            f"    per module execution on the host: median {statistics.median(per):.2f} s, "
            f"mean {sum(r['seconds'] for r in remote) / executions:.2f} s"
        )
    by_role: dict[str, float] = collections.Counter()
    for r in rows:
        by_role[r["role"]] += r["seconds"]
    print("    by role: " + ", ".join(f"{k} {v:.1f} s" for k, v in by_role.most_common()))
    by_action: dict[str, list[float]] = collections.defaultdict(list)
    for r in ran:
        by_action[r["action"].removeprefix("ansible.builtin.")].append(r["seconds"])
    print(
        "    by module: "
        + ", ".join(
            f"{k} {len(v)}x {sum(v):.1f} s"
            for k, v in sorted(by_action.items(), key=lambda kv: -sum(kv[1]))
        )
    )
    if top:
        print(f"    slowest {top} tasks:")
        for r in sorted(rows, key=lambda r: -r["seconds"])[:top]:
            loop = f" ({r['loop']} items)" if r["loop"] else ""
            print(f"      {r['seconds']:6.2f} s  {r['status']:<7} {r['name']}{loop}")


def bench_node(node: str, top: int, check: bool) -> dict[str, float]:
    scenario = SCENARIOS[node]
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-roles-") as tmp, Host(node) as host:
        inventory = Path(tmp) / "inventory.yml"
        inventory.write_text(
            f"all:\n  hosts:\n    {host.name}:\n"
            "      ansible_connection: containers.podman.podman\n"
            "      ansible_python_interpreter: /usr/bin/python3\n"
        )
        env = {
            **hostimage.env(),
            "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            # A fact cache of this run's own: the first converge is truly fresh.
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(Path(tmp) / "facts"),
        }
        print(f"{node} node ({host.name}, {scenario.relative_to(ROOT)}):", flush=True)
        started = time.monotonic()
        prep = run_playbook(scenario / "prepare.yml", inventory=inventory, env=env, timeout=1800)
        if not prep.ok:
            sys.exit(f"{node} prepare failed:\n{prep.messages()[-6000:]}")
        print(f"  prepare (stand-ins, not the roles): {time.monotonic() - started:6.1f} s")

        times["fresh"], first = converge(scenario, inventory, env)
        summary("fresh converge", times["fresh"], first, 0)
        times["again"], again = converge(scenario, inventory, env)
        summary("re-converge   ", times["again"], again, top)
        if again.changed:
            sys.exit(f"re-converge changed something: {again.changed_tasks()}")
        if check:
            times["check"], checked = converge(scenario, inventory, env, check=True)
            summary("--check --diff", times["check"], checked, 0)
            if checked.changed:
                sys.exit(f"--check reported changes: {checked.changed_tasks()}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--node", choices=["web", "worker", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (fresh host each)")
    parser.add_argument("--top", type=int, default=12, help="slowest re-converge tasks shown")
    parser.add_argument("--no-check", action="store_true", help="skip the --check --diff run")
    args = parser.parse_args()
    image = hostimage.build()
    print(f"image {hostimage.IMAGE}: {'built' if image['built'] else 'cached'}, {load()}")
    nodes = ["web", "worker"] if args.node == "both" else [args.node]
    results: dict[str, dict[str, list[float]]] = {n: collections.defaultdict(list) for n in nodes}
    for _ in range(max(1, min(args.repeat, 10))):  # bounded: at most 10 rounds
        for node in nodes:
            for key, value in bench_node(node, args.top, not args.no_check).items():
                results[node][key].append(value)
    print(f"\nroles on a fresh podman host, {os.cpu_count()} cores, {load()}:")
    print(f"  {'node':<8}{'fresh converge':>16}{'re-converge':>14}{'--check':>10}   targets")
    for node, times in results.items():
        cells = [
            f"{statistics.median(times[key]):.1f} s" if times.get(key) else "-"
            for key in ("fresh", "again", "check")
        ]
        print(f"  {node:<8}{cells[0]:>16}{cells[1]:>14}{cells[2]:>10}   <= 150 s / <= 25 s")
    ok = all(
        statistics.median(t["fresh"]) <= 150 and statistics.median(t["again"]) <= 25
        for t in results.values()
    )
    print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as err:
        sys.exit(f"{err.cmd}: {err.stderr}")

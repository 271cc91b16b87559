"""Run ansible-playbook (for the platform, the benchmarks and the tests) and read its outcome
as data (ansible.posix.json callback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from local import ROOT

BIN = Path(sys.executable).parent


@dataclass
class PlaybookResult:
    returncode: int
    stats: dict[str, dict[str, int]]
    plays: list[dict] = field(repr=False)
    stderr: str = field(repr=False)
    raw: str = field(repr=False)
    summary: str = field(default="", repr=False)  # scripts/deploy plan's Markdown

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def total(self, key: str) -> int:
        return sum(host.get(key, 0) for host in self.stats.values())

    @property
    def changed(self) -> int:
        return self.total("changed")

    def task_results(self):
        """(task name, host, result) for every task result of the run."""
        for play in self.plays:
            for task in play.get("tasks", []):
                for host, result in task.get("hosts", {}).items():
                    yield task["task"]["name"], host, result

    def task_times(self, name: str) -> list[tuple[str, str, str]]:
        """(host, start, end) of each run (not skipped) of the task named ``name``, as ISO 8601
        UTC times; under the free strategy each host's run of a task has its own."""
        return [
            (host, task["task"]["duration"]["start"], task["task"]["duration"].get("end", ""))
            for play in self.plays
            for task in play.get("tasks", [])
            if task["task"]["name"] == name
            for host, result in task.get("hosts", {}).items()
            if not result.get("skipped")
        ]

    def changed_tasks(self) -> list[str]:
        return [f"{host}: {name}" for name, host, res in self.task_results() if res.get("changed")]

    def failed_tasks(self) -> list[str]:
        """Each failed task with its message and, for a loop, those of its failed items."""
        return [
            f"{host}: {name}: "
            + " | ".join(
                [res.get("msg", "")]
                # ansible-core 2.20 marks a failed item by its exception, not always "failed".
                + [
                    item.get("msg", "")
                    for item in res.get("results", [])
                    if item.get("failed") or "exception" in item
                ]
            )
            for name, host, res in self.task_results()
            if res.get("failed") and not res.get("ignore_errors")
        ]

    def messages(self) -> str:
        """Everything a failing run said, for assertion messages and error checks."""
        return "\n".join(self.failed_tasks()) + "\n" + self.stderr


def run_playbook(
    playbook: str | Path,
    *,
    inventory: str | Path | None = None,
    extra_vars: dict | None = None,
    check: bool = False,
    diff: bool = False,
    limit: str | None = None,
    tags: str | None = None,
    skip_tags: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    command: list[str] | None = None,
) -> PlaybookResult:
    """``command`` runs the playbook through a wrapper instead (e.g. ``[scripts/deploy, apply,
    local]``), which gets the options below."""
    cmd = (
        [str(part) for part in command]
        if command
        else [str(BIN / "ansible-playbook"), str(playbook)]
    )
    if inventory:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if limit:
        cmd += ["--limit", limit]
    if tags:
        cmd += ["--tags", tags]
    if skip_tags:
        cmd += ["--skip-tags", skip_tags]
    run_env = dict(os.environ)
    run_env.update(env or {})
    run_env.update(
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_DISPLAY_TRACEBACK="error",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{run_env.get('PATH', '')}",
    )
    proc = subprocess.run(
        cmd, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    data = _json_document(proc.stdout)
    return PlaybookResult(
        returncode=proc.returncode,
        stats=data.get("stats", {}),
        plays=data.get("plays", []),
        stderr=proc.stderr + ("" if data else proc.stdout),
        raw=proc.stdout,
    )


def _json_document(stdout: str) -> dict:
    """The callback's JSON document; aggregate callbacks (timer) may print around it."""
    start = stdout.find("\n{") + 1 if not stdout.startswith("{") else 0
    try:
        return json.JSONDecoder().raw_decode(stdout[start:])[0]
    except ValueError:
        return {}

#!/usr/bin/env python3
"""The plan of a `provision.yml --check --diff` run as Markdown, for a pipeline's job summary.

    scripts/plan_summary.py plan.json [--title TEXT]

plan.json is the run's output through the ansible.posix.json callback (scripts/deploy plan writes
it). The Markdown lists the counts, each task that would change with its diff, and each task that
failed with its message; it goes to stdout and, in GitHub Actions, to $GITHUB_STEP_SUMMARY.
Results Ansible censored (no_log) stay censored: nothing is read but what the callback wrote.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml


def _document(text: str) -> dict[str, Any]:
    """The callback's JSON document (other callbacks may print around it)."""
    start = 0 if text.startswith("{") else text.find("\n{") + 1
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0]
    except ValueError:
        return {}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True) if value else ""


def _diff_lines(diff: Any) -> list[str]:
    """A unified diff of one task result's ``diff`` (a dict or a list of them)."""
    lines: list[str] = []
    for part in diff if isinstance(diff, list) else [diff]:
        if not isinstance(part, dict):
            continue
        if "prepared" in part:
            lines += str(part["prepared"]).splitlines()
            continue
        before, after = _text(part.get("before")), _text(part.get("after"))
        lines += difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            part.get("before_header", "before"),
            part.get("after_header", "after"),
            lineterm="",
        )
    return lines


def _results(document: dict[str, Any]):
    for play in document.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                yield task["task"]["name"], host, result


def summarize(document: dict[str, Any], title: str) -> str:
    stats = document.get("stats", {})
    total = {
        key: sum(host.get(key, 0) for host in stats.values())
        for key in ("ok", "changed", "failures", "unreachable")
    }
    out = [f"### {title}", ""]
    if not document:
        return "\n".join([*out, "The run printed no result: see the job's log.", ""])
    failed = total["failures"] + total["unreachable"]
    verdict = (
        f"**failed** ({failed} failed or unreachable)"
        if failed
        else "**no changes**"
        if not total["changed"]
        else f"**{total['changed']} to change**"
    )
    out += [f"{verdict}: ok={total['ok']} changed={total['changed']} failed={failed}", ""]
    for name, host, result in _results(document):
        if result.get("failed") and not result.get("ignore_errors"):
            out += [f"- :x: `{host}` {name}: {result.get('msg', '')}"]
    for name, host, result in _results(document):
        if not result.get("changed"):
            continue
        diff = _diff_lines(result.get("diff"))
        items = [i for i in result.get("results", []) if i.get("changed")]
        for item in items:
            diff += _diff_lines(item.get("diff"))
        if not diff:
            out += [f"- `{host}` {name}"]
            continue
        out += [
            "<details>",
            f"<summary><code>{host}</code> {name}</summary>",
            "",
            "```diff",
            *diff,
            "```",
            "</details>",
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("plan", type=Path, help="the run's ansible.posix.json output")
    parser.add_argument("--title", default="Plan: provision.yml --check --diff")
    args = parser.parse_args(argv)
    markdown = summarize(_document(args.plan.read_text()), args.title)
    sys.stdout.write(markdown)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

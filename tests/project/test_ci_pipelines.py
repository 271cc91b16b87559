"""The CI pipelines (.github/workflows, .gitlab-ci.yml) cannot drift from what is tested.

Every command a pipeline runs is a make target whose recipe runs what the tests run: pytest, or a
script under scripts/ that a test runs (scripts/deploy: tests/playbooks/test_provision.py's runs go
through it) or that `make test` runs (scripts/bootstrap, through `deps`). Actions are pinned by
commit, each job's token has its own permissions, and the jobs that change an environment run
one at a time per environment. actionlint and the schemas (`make lint`) check the rest.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
GITLAB = ROOT / ".gitlab-ci.yml"
MAKE_COMMAND = re.compile(r"^make( [A-Z_]+=\S+)* (?P<target>[a-z][a-z-]*)( [A-Z_]+=\S+)*$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def makefile_recipes() -> dict[str, list[str]]:
    """{target: its recipe's lines} of the Makefile, with each target's prerequisites first."""
    recipes: dict[str, list[str]] = {}
    target = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        rule = re.match(r"^([a-z][a-z-]*):([^=].*)?$", line)
        if rule:
            target = rule[1]
            prerequisites = (rule[2] or "").split("##")[0].split()
            recipes[target] = [f"$(MAKE) {p}" for p in prerequisites]
        elif line.startswith("\t") and target:
            recipes[target].append(line.strip().lstrip("@"))
        elif line and not line.startswith("#"):
            target = None
    return recipes


def scripts_the_tests_run() -> set[str]:
    tests = [p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name]
    text = "\n".join(p.read_text() for p in tests)
    named = set(re.findall(r"scripts/[\w.-]+", text))
    named |= {f"scripts/{n}" for n in re.findall(r'"scripts"\s*/\s*"([\w.-]+)"', text)}
    return named


def pipeline_commands() -> list[tuple[str, str]]:
    """(where, command) of every command the pipelines run, one line each."""
    found = []
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        for name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                for line in str(step.get("run", "")).splitlines():
                    if line.strip():
                        found.append((f"{path.name}:{name}", line.strip()))
    gitlab = yaml.safe_load(GITLAB.read_text())
    for name, job in gitlab.items():
        if isinstance(job, dict):
            for key in ("before_script", "script", "after_script"):
                for line in job.get(key, []):
                    found.append((f".gitlab-ci.yml:{name}", line.strip()))
    return found


def run_by(target: str, recipes: dict[str, list[str]]) -> set[str]:
    """The targets ``make target`` runs: itself, its prerequisites and the makes it calls."""
    todo, seen = {target}, set()
    while todo:
        name = todo.pop()
        seen.add(name)
        for line in recipes[name]:
            words = shlex.split(line.replace("$(MAKE)", "make"))
            if words[0] == "make":
                todo |= {w for w in words[1:] if w in recipes} - seen
    return seen


def test_every_pipeline_command_is_a_make_target_the_tests_exercise():
    """What `make test` runs (.ci/run: lint, deps) is exercised as it is; any other target may
    run pytest or scripts that a test or `make test` runs, nothing else."""
    recipes = makefile_recipes()
    in_make_test = run_by("test", recipes)
    scripts = scripts_the_tests_run() | {
        shlex.split(line)[0]
        for t in in_make_test
        for line in recipes[t]
        if line.startswith("scripts/")
    }
    commands = pipeline_commands()
    assert len(commands) > 20
    for where, command in commands:
        match = MAKE_COMMAND.match(command.replace('"', ""))
        assert match, f"{where}: `{command}` is not `make <target> [VAR=value]`"
        assert match["target"] in recipes, f"{where}: no make target {match['target']}"
        for target in run_by(match["target"], recipes) - in_make_test:
            for line in recipes[target]:
                program = shlex.split(line.replace("$(MAKE)", "make"))[0]
                if program.startswith("scripts/"):
                    assert program in scripts, f"make {target} runs {program}, which no test runs"
                else:
                    assert program in ("make", "pytest"), f"make {target} runs `{line}`, untested"


def test_github_jobs_pin_actions_and_scope_their_token():
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, f"{path.name}: no default token permissions"
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}:{name} names its token's permissions"
            assert job["permissions"].get("contents") in ("read", None), name
            for step in job.get("steps", []):
                if "uses" in step:
                    assert PINNED.match(step["uses"]), f"{path.name}:{name}: {step['uses']}"
                assert "${{" not in str(step.get("run", "")), (
                    f"{path.name}:{name}: expression in run"
                )
            if "id-token" in job["permissions"]:
                # Short-lived credentials only: no AWS key is ever given to a job.
                assert "aws-access-key-id" not in str(job), name
            if "environment" in job:
                group = job["concurrency"]["group"]
                assert (
                    group.startswith("deploy-")
                    and job["concurrency"]["cancel-in-progress"] is False
                )


def test_gitlab_deploy_jobs_run_one_at_a_time_per_environment():
    gitlab = yaml.safe_load(GITLAB.read_text())
    deploying = {
        name: job for name, job in gitlab.items() if isinstance(job, dict) and "environment" in job
    }
    assert set(deploying) == {"staging", "production", "patch"}
    for name, job in deploying.items():
        assert job["resource_group"] == f"deploy-{job['environment']['name']}", name
        assert job["extends"] in (".aws", ".deploy"), name
    assert "AWS_ACCESS_KEY_ID" not in GITLAB.read_text()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, ["printed no result"]),
        (
            {
                "stats": {"localhost": {"ok": 5, "changed": 0, "failures": 0}},
                "plays": [
                    {"tasks": [{"task": {"name": "S3 | Buckets"}, "hosts": {"localhost": {}}}]}
                ],
            },
            ["**no changes**: ok=5 changed=0 failed=0"],
        ),
        (
            {
                "stats": {"aws-edge": {"ok": 3, "changed": 2, "failures": 1}},
                "plays": [
                    {
                        "tasks": [
                            {
                                "task": {"name": "ASG | Web group"},
                                "hosts": {
                                    "aws-edge": {
                                        "changed": True,
                                        "diff": {"before": {"max": 3}, "after": {"max": 5}},
                                    }
                                },
                            },
                            {
                                "task": {"name": "Secrets | Origin secret"},
                                "hosts": {"aws-edge": {"changed": True, "censored": "hidden"}},
                            },
                            {
                                "task": {"name": "RDS | Instance"},
                                "hosts": {"aws-edge": {"failed": True, "msg": "quota"}},
                            },
                        ]
                    }
                ],
            },
            [
                "**failed** (1 failed or unreachable)",
                "<summary><code>aws-edge</code> ASG | Web group</summary>",
                "-max: 3",
                "+max: 5",
                "- `aws-edge` Secrets | Origin secret",
                "- :x: `aws-edge` RDS | Instance: quota",
            ],
        ),
    ],
    ids=["nothing", "no-change", "changes-and-failure"],
)
def test_plan_summary_says_what_would_change(document, expected):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "plan_summary", ROOT / "scripts" / "plan_summary.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    markdown = module.summarize(document, "Plan")
    for text in expected:
        assert text in markdown, markdown
    assert "hidden" not in markdown

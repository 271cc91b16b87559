"""provision.yml's plan (playbooks/provision/vars/provision_plan.yml) is a dependency graph the
lanes can run: every need is a step, no lane can end up waiting for itself, and every step reads
only ids published before it starts (by a step it needs, directly or through others, by an
earlier step of its lane, or by the first play). Static: no emulator, well under a second."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROVISION = ROOT / "playbooks" / "provision"
PLAN = yaml.safe_load((PROVISION / "vars" / "provision_plan.yml").read_text())
FACT = re.compile(r"\bprovision_[a-z0-9_]+")
PUBLISHED = re.compile(r"^\s+(provision_[a-z0-9_]+):", re.MULTILINE)
PART = re.compile(r"provision_part\s*(==|!=|not in|in)\s*(.+)")
APP_HOSTING = re.compile(r"app_hosting\s*(==|!=)\s*'(\w+)'")


def _in_part(task: dict, part: str, hosting: str | None = None) -> bool:
    """Whether a task of a resource file runs for this part: its `when` clauses on provision_part
    (`provision_part == 'serving'`, `provision_part in ['', 'ami']`, ...) all hold, and, given a
    hosting, those on app_hosting (`app_hosting == 'ec2'`)."""
    when = task.get("when", [])
    for clause in (
        c for w in ([when] if isinstance(when, str) else when) for c in w.split(" and ")
    ):
        hosted = APP_HOSTING.search(clause) if hosting else None
        if hosted and (hosted[2] == hosting) != (hosted[1] == "=="):
            return False
        if match := PART.search(clause):
            op, value = match[1], ast.literal_eval(match[2].strip())
            holds = {"==": part == value, "!=": part != value, "in": part in value}.get(op)
            if not (part not in value if op == "not in" else holds):
                return False
    return True


def steps() -> dict[str, dict]:
    """step name -> {lane, needs, after (the lane's previous step)}."""
    found: dict[str, dict] = {}
    for lane, entries in PLAN["provision_plan"].items():
        previous = None
        for entry in entries:
            assert entry["step"] not in found, f"{entry['step']} twice in the plan"
            found[entry["step"]] = {
                "lane": lane,
                "needs": entry.get("needs", []),
                "after": previous,
            }
            previous = entry["step"]
    return found


def graph() -> dict[str, set[str]]:
    """Each step with what must be done before it starts: its needs and its lane's previous step."""
    return {
        name: set(step["needs"]) | ({step["after"]} if step["after"] else set())
        for name, step in steps().items()
    }


def _tasks(tasks: list, part: str, hosting: str | None) -> list:
    """The tasks that run for the part (and, given one, the hosting: a block's tasks are then
    judged one by one)."""
    kept = []
    for task in tasks:
        if not _in_part(task, part, hosting):
            continue
        if hosting and "block" in task:
            kept.append({k: v for k, v in task.items() if k != "block"})
            kept.extend(_tasks(task["block"], part, hosting))
        else:
            kept.append(task)
    return kept


def text(step: str, hosting: str | None = None) -> str:
    """What a step runs: its part's own file (resources/<file>/<part>.yml), or its file's tasks
    for its part (and hosting), and the task files they include or import."""
    file, _, part = step.partition(":")
    path = PROVISION / "resources" / file / f"{part}.yml"
    if not part or not path.is_file():
        path = PROVISION / "resources" / f"{file}.yml"
    kept = []
    for task in _tasks(yaml.safe_load(path.read_text()), part, hosting):
        kept.append(yaml.safe_dump(task))
        for key in ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks"):
            if included := task.get(key):
                kept.append((path.parent / included).read_text())
    return "\n".join(kept)


def published(step: str, hosting: str | None = None) -> set[str]:
    return set(PUBLISHED.findall(text(step, hosting)))


def read(step: str, hosting: str | None = None) -> set[str]:
    """The provision_* names a step reads, through the vars files and templates it uses."""
    own = text(step, hosting)
    extra = []
    for path in (PROVISION / "vars").glob("*.yml"):
        if set(yaml.safe_load(path.read_text())) & set(FACT.findall(own)):
            extra.append(path.read_text())
    for template in re.findall(r"\.\./templates/([\w.]+\.j2)", own):
        extra.append((PROVISION / "templates" / template).read_text())
    return set(FACT.findall("\n".join([own, *extra])))


def test_the_lanes_are_the_plans_and_each_step_has_its_resource_file():
    assert PLAN["provision_lanes"] == list(PLAN["provision_plan"])
    for name in steps():
        assert (PROVISION / "resources" / f"{name.split(':')[0]}.yml").is_file(), name


def test_every_need_is_a_step_of_another_lane_or_earlier_in_its_own():
    plan = steps()
    for name, step in plan.items():
        for need in step["needs"]:
            assert need in plan, f"{name} needs {need}, which is no step"
            assert need != name


def test_no_lane_can_end_up_waiting_for_itself():
    try:
        order = list(TopologicalSorter(graph()).static_order())
    except CycleError as error:  # e.g. a needs b in another lane, whose earlier step needs a
        pytest.fail(f"the lanes would wait for each other forever: {error.args[1]}")
    assert set(order) == set(steps())


def test_every_step_reads_only_ids_its_needs_publish():
    """Needs only: a lane's order is how steps are shared out, not a dependency to lean on."""
    before_lanes = published("vpc") | set(
        PUBLISHED.findall((PROVISION / "tasks" / "preflight.yml").read_text())
    )
    plan = steps()
    ancestors: dict[str, set[str]] = {}
    for name in TopologicalSorter({n: set(s["needs"]) for n, s in plan.items()}).static_order():
        ancestors[name] = set().union(*(ancestors[n] | {n} for n in plan[name]["needs"]))
    facts_of = {name: published(name) for name in plan}
    every_fact = set().union(*facts_of.values()) | before_lanes
    for name in plan:
        wanted = (read(name) & every_fact) - facts_of[name] - before_lanes
        have = set().union(*(facts_of[n] for n in ancestors[name]))
        assert wanted <= have, f"{name} reads {sorted(wanted - have)} before a step publishes them"


def test_the_check_fails_on_a_missing_need(monkeypatch):
    """The test above catches a plan where the ALB may start before the subnets exist."""
    broken = {lane: [dict(e) for e in entries] for lane, entries in PLAN["provision_plan"].items()}
    for entries in broken.values():
        for entry in entries:
            if entry["step"] == "elb":
                entry["needs"] = [n for n in entry["needs"] if "subnets" not in n]
    monkeypatch.setitem(PLAN, "provision_plan", broken)
    with pytest.raises(AssertionError, match=r"elb reads .*subnet"):
        test_every_step_reads_only_ids_its_needs_publish()


HOSTINGS = ("ec2", "beanstalk")


def test_each_hosting_runs_its_steps_and_each_step_reads_only_what_its_needs_publish_on_it():
    """`hosting` names app_hosting values; the EC2 path's web tier (launch templates, Auto
    Scaling groups) and Elastic Beanstalk's environments are each other's alternative. On each
    hosting, a step reads only what the steps it needs publish on that hosting (a task's
    `app_hosting` condition counted: on beanstalk, elb publishes no target group, origin_guard
    does)."""
    plan = {e["step"]: e for entries in PLAN["provision_plan"].values() for e in entries}
    for name, entry in plan.items():
        assert set(entry.get("hosting", HOSTINGS)) <= set(HOSTINGS), name
    only = {h: {n for n, e in plan.items() if e.get("hosting") == [h]} for h in HOSTINGS}
    assert {"ec2_launch_template:web+worker", "autoscaling:web+worker"} <= only["ec2"]
    assert {"beanstalk:store", "beanstalk:version", "beanstalk:environments"} <= only["beanstalk"]
    before_lanes = published("vpc") | set(
        PUBLISHED.findall((PROVISION / "tasks" / "preflight.yml").read_text())
    )
    for hosting in HOSTINGS:
        runs = {n for n, e in plan.items() if hosting in e.get("hosting", HOSTINGS)}
        needs = {n: [m for m in plan[n].get("needs", []) if m in runs] for n in runs}
        ancestors: dict[str, set[str]] = {}
        for name in TopologicalSorter({n: set(needs[n]) for n in runs}).static_order():
            ancestors[name] = set().union(*(ancestors[m] | {m} for m in needs[name]))
        facts_of = {n: published(n, hosting) for n in runs}
        every_fact = set().union(*facts_of.values()) | before_lanes
        for name in runs:
            wanted = (read(name, hosting) & every_fact) - facts_of[name] - before_lanes
            have = set().union(*(facts_of[m] for m in ancestors[name]))
            assert wanted <= have, (hosting, name, sorted(wanted - have))


def test_the_hosting_check_fails_when_the_alarms_miss_beanstalks_target_group(monkeypatch):
    """On beanstalk our ALB has no target group of ours: the alarms wait for origin_guard's."""
    broken = {lane: [dict(e) for e in entries] for lane, entries in PLAN["provision_plan"].items()}
    for entries in broken.values():
        for entry in entries:
            if entry["step"].startswith("cloudwatch_alarms"):
                entry["needs"] = [n for n in entry["needs"] if n != "beanstalk:origin_guard"]
    monkeypatch.setitem(PLAN, "provision_plan", broken)
    with pytest.raises(AssertionError, match=r"beanstalk.*cloudwatch_alarms.*target_group"):
        test_each_hosting_runs_its_steps_and_each_step_reads_only_what_its_needs_publish_on_it()

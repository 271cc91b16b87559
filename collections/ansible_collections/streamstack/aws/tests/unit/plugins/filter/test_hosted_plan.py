from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[7]))  # the repository's collections/
from ansible_collections.streamstack.aws.plugins.filter.hosted_plan import hosted_plan

ROOT = Path(__file__).resolve().parents[8]

PLAN = {
    "a": [
        {"step": "vpc"},
        {"step": "asg", "hosting": ["ec2"], "needs": ["vpc"]},
        {"step": "eb", "hosting": ["beanstalk"], "needs": ["vpc"]},
    ],
    "b": [{"step": "alarms", "needs": ["vpc", "eb"]}],
    "c": [{"step": "eb_only", "hosting": ["beanstalk"]}],
}


def test_keeps_the_hostings_steps_in_lane_order_and_drops_needs_on_the_others():
    assert hosted_plan(PLAN, "ec2") == {
        "a": [{"step": "vpc"}, {"step": "asg", "hosting": ["ec2"], "needs": ["vpc"]}],
        "b": [{"step": "alarms", "needs": ["vpc"]}],
    }
    assert hosted_plan(PLAN, "beanstalk") == {
        "a": [{"step": "vpc"}, {"step": "eb", "hosting": ["beanstalk"], "needs": ["vpc"]}],
        "b": [{"step": "alarms", "needs": ["vpc", "eb"]}],
        "c": [{"step": "eb_only", "hosting": ["beanstalk"]}],
    }
    assert PLAN["b"][0]["needs"] == ["vpc", "eb"]  # the plan itself is left as it was


def test_refuses_a_plan_that_is_no_mapping():
    with pytest.raises(AnsibleFilterError, match="mapping"):
        hosted_plan([{"step": "vpc"}], "ec2")


def test_provision_plan_on_ec2_leaves_no_step_waiting_for_elastic_beanstalk():
    """The alarms wait for origin_guard's target group on beanstalk only: on ec2 they no longer
    wait behind the identity lane's Auto Scaling groups and its beanstalk steps."""
    plan = yaml.safe_load((ROOT / "playbooks/provision/vars/provision_plan.yml").read_text())
    ec2 = hosted_plan(plan["provision_plan"], "ec2")
    steps = [e for entries in ec2.values() for e in entries]
    assert not [e["step"] for e in steps if e["step"].startswith("beanstalk")]
    needs = {e["step"]: e.get("needs", []) for e in steps}
    assert [s for s, n in needs.items() if any(m.startswith("beanstalk") for m in n)] == []

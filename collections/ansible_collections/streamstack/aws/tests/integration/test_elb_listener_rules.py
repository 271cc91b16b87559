"""streamstack.aws.elb_listener_rules against the emulator, asserted with boto3: the rules of
an ALB listener whose default action answers 403, a rule forwarding the requests that carry a
secret header; the header values never appear in the output.

One module-scoped sequence: a listener that does not exist yet, bad input, --check of the
create, create, run again, a rotation (two values, then one), a path rule added and purged.
Then streamstack.aws.elb_load_balancer_attributes on the same load balancer.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from local.prepared_account import self_signed

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

PLAYBOOK = PLAYBOOKS / "elb_listener_rules.yml"
OLD, NEW = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def balancer(aws) -> dict[str, str]:
    """An internet-facing ALB with an HTTPS listener answering 403, and a target group."""
    ec2, elbv2 = aws("ec2"), aws("elbv2")
    name = f"lr-{uuid.uuid4().hex[:8]}"
    vpc_id = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.93.{i}.0/24", AvailabilityZone=az)["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate(["eu-west-1a", "eu-west-1b"])
    ]
    lb_arn = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    group_arn = elbv2.create_target_group(
        Name=f"{name}-web", Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    certificate, key = self_signed([f"{name}.example.test"])
    certificate_arn = aws("acm").import_certificate(Certificate=certificate, PrivateKey=key)[
        "CertificateArn"
    ]
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate_arn}],
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "403", "ContentType": "text/plain"},
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    return {"name": name, "listener_arn": listener_arn, "group_arn": group_arn}


def guard(name: str, *values: str, priority: int = 1) -> dict:
    return {
        "priority": priority,
        "conditions": [{"http_header": {"name": "X-Origin-Verify", "values": list(values)}}],
        "actions": [{"type": "forward", "target_group_name": f"{name}-web"}],
    }


@pytest.fixture(scope="module")
def run(playbook, balancer):
    def run(rules, *, check=False, diff=True, **extra):
        variables = {"lr_lb": balancer["name"], "lr_rules": rules, **extra}
        return playbook(PLAYBOOK, extra_vars=variables, check=check, diff=diff)

    return run


def rules(aws, balancer) -> dict[int, dict]:
    found = aws("elbv2").describe_rules(ListenerArn=balancer["listener_arn"])["Rules"]
    return {int(r["Priority"]): r for r in found if not r["IsDefault"]}


def result(run_result) -> dict:
    ((_, _, res),) = list(run_result.task_results())
    return res


def secret_free(run_result, *secrets: str) -> bool:
    text = json.dumps(run_result.plays) + run_result.stderr
    return not any(secret in text for secret in secrets)


def test_a_listener_that_does_not_exist_yet(run, balancer):
    missing = run([guard(balancer["name"], OLD)], lr_port=8443, lr_required=False)
    assert missing.ok and missing.changed == 0
    assert result(missing)["listener_arn"] == ""
    required = run([guard(balancer["name"], OLD)], lr_port=8443)
    assert not required.ok and "has no listener on port 8443" in result(required)["msg"]


BAD_RULES = {
    "no action": ([{"priority": 1, "conditions": [], "actions": []}], "exactly one action"),
    "six header values": (
        [
            {
                "priority": 1,
                "conditions": [
                    {"http_header": {"name": "X", "values": [f"value-{n}" for n in range(6)]}}
                ],
                "actions": [{"type": "fixed-response", "status_code": "403"}],
            }
        ],
        "1-5 values",
    ),
    "one priority twice": ([guard("x", OLD), guard("x", NEW)], "unique"),
    "no such target group": ([guard("nowhere", OLD)], "No target group named nowhere-web"),
}


@pytest.mark.parametrize("case", BAD_RULES, ids=list(BAD_RULES))
def test_bad_input_changes_nothing(case, run, aws, balancer):
    bad_rules, words = BAD_RULES[case]
    refused = run(bad_rules)
    assert not refused.ok
    assert words in result(refused)["msg"], result(refused)["msg"]
    assert rules(aws, balancer) == {}


def test_check_mode_shows_the_rule_and_creates_nothing(run, aws, balancer):
    check = run([guard(balancer["name"], OLD)], check=True)
    assert check.ok and check.changed == 1
    assert result(check)["created"] == [1]
    assert rules(aws, balancer) == {}
    assert secret_free(check, OLD)


@pytest.fixture(scope="module")
def created(run, balancer):
    created = run([guard(balancer["name"], OLD)])
    assert created.ok, created.messages()
    return created


def test_create_forwards_only_requests_with_the_header(created, aws, balancer):
    assert result(created)["created"] == [1]
    (rule,) = rules(aws, balancer).values()
    (condition,) = rule["Conditions"]
    assert condition["Field"] == "http-header"
    assert condition["HttpHeaderConfig"] == {"HttpHeaderName": "X-Origin-Verify", "Values": [OLD]}
    assert [a["Type"] for a in rule["Actions"]] == ["forward"]
    assert rule["Actions"][0]["TargetGroupArn"] == balancer["group_arn"]
    assert secret_free(created, OLD)
    shown = result(created)["rules"][0]["conditions"][0]
    assert shown.startswith("http-header x-origin-verify=") and OLD not in shown


def test_second_run_changes_nothing(created, run, balancer):
    again = run([guard(balancer["name"], OLD)])
    assert again.ok and again.changed == 0, again.changed_tasks()


def test_rotation_accepts_both_values_then_the_new_one(created, run, aws, balancer):
    both = run([guard(balancer["name"], NEW, OLD)])
    assert both.ok and result(both)["updated"] == [1]
    values = rules(aws, balancer)[1]["Conditions"][0]["HttpHeaderConfig"]["Values"]
    assert sorted(values) == sorted([OLD, NEW])
    rule_arn = rules(aws, balancer)[1]["RuleArn"]
    only_new = run([guard(balancer["name"], NEW)])
    assert only_new.ok and result(only_new)["updated"] == [1]
    (rule,) = rules(aws, balancer).values()
    assert rule["RuleArn"] == rule_arn  # modified in place, never a gap without the rule
    assert rule["Conditions"][0]["HttpHeaderConfig"]["Values"] == [NEW]
    assert secret_free(both, OLD, NEW) and secret_free(only_new, OLD, NEW)


def test_rules_not_listed_are_purged_unless_told(created, run, aws, balancer):
    health = {
        "priority": 10,
        "conditions": [{"path_pattern": ["/lb-health"]}],
        "actions": [{"type": "fixed-response", "status_code": "200", "message_body": "ok"}],
    }
    added = run([guard(balancer["name"], NEW), health])
    assert added.ok and result(added)["created"] == [10]
    assert rules(aws, balancer)[10]["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "200"
    kept = run([guard(balancer["name"], NEW)], lr_purge=False)
    assert kept.ok and kept.changed == 0 and sorted(rules(aws, balancer)) == [1, 10]
    purged = run([guard(balancer["name"], NEW)])
    assert purged.ok and result(purged)["deleted"] == [10]
    assert sorted(rules(aws, balancer)) == [1]


# --- streamstack.aws.elb_load_balancer_attributes on the same load balancer -----------------

ATTRIBUTES = PLAYBOOKS / "elb_load_balancer_attributes.yml"


def attributes(aws, balancer) -> dict[str, str]:
    (lb,) = aws("elbv2").describe_load_balancers(Names=[balancer["name"]])["LoadBalancers"]
    found = aws("elbv2").describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])
    return {a["Key"]: a["Value"] for a in found["Attributes"]}


def test_attributes_are_set_by_key_and_compared(playbook, aws, balancer):
    def run(wanted, *, check=False, name=balancer["name"]):
        return playbook(
            ATTRIBUTES, extra_vars={"la_lb": name, "la_attributes": wanted}, check=check, diff=True
        )

    preserve = {"routing.http.xff_header_processing.mode": "preserve"}
    assert attributes(aws, balancer)["routing.http.xff_header_processing.mode"] == "append"
    check = run(preserve, check=True)
    assert check.ok and check.changed == 1
    assert attributes(aws, balancer)["routing.http.xff_header_processing.mode"] == "append"
    first = run(preserve)
    assert first.ok and first.changed == 1
    assert result(first)["diff"] == {
        "before": {"routing.http.xff_header_processing.mode": "append"},
        "after": preserve,
    }
    assert attributes(aws, balancer)["routing.http.xff_header_processing.mode"] == "preserve"
    again = run({**preserve, "idle_timeout.timeout_seconds": 60})
    assert again.ok and again.changed == 0, again.changed_tasks()
    missing = run(preserve, name="no-such-alb")
    assert not missing.ok and "No load balancer named no-such-alb" in result(missing)["msg"]

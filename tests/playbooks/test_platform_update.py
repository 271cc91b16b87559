"""playbooks/platform_update.yml (patching with app_hosting: beanstalk: Elastic Beanstalk's
managed platform update, applied now) on the emulator, no hosts: bad input refused before any
call; app_hosting ec2 ends at once; no pending update changes nothing; once a newer version of
the environment's platform branch is published, patch.yml (what make patch and the patch
pipelines run) --check reports it and applies nothing, the run applies it and waits for Ready
and Green (streamstack.aws.elasticbeanstalk_platform_update), a second run changes nothing.
The stand-in rolling it under load: tests/local/test_beanstalk_rolling.py."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.beanstalk

PLAYBOOK = ROOT / "playbooks" / "platform_update.yml"
PATCH = ROOT / "playbooks" / "patch.yml"
INVENTORY = ROOT / "inventories" / "local"
# Not the production branch: a platform version published here stays for the session.
STACK = "64bit Amazon Linux 2023 v4.6.0 running Python 3.9"
NEWER = "64bit Amazon Linux 2023 v4.6.1 running Python 3.9"


def _run(playbook, base: str, check: bool = False, path=PLAYBOOK, **variables):
    return playbook(
        path,
        inventory=INVENTORY,
        check=check,
        extra_vars={
            "platform_name": base,
            "app_hosting": "beanstalk",
            "platform_update_tiers": ["web"],
            "beanstalk_wait_delay": 1,
            **variables,
        },
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"platform_update_tiers": ["web", "db"]}, "platform_update_tiers must be a list"),
        ({"platform_update_tiers": "web"}, "platform_update_tiers must be a list"),
    ],
)
def test_bad_input_is_refused_before_any_call(playbook, variables, message):
    result = _run(playbook, "ebbad", **variables)
    assert not result.ok
    assert message in result.messages()


def test_ec2_hosting_ends_at_once(playbook):
    """patch.yml ends with this playbook on every hosting: with ec2 it calls nothing."""
    result = _run(playbook, "ebec2", app_hosting="ec2", platform_update_tiers="anything")
    assert result.ok, result.messages()
    assert list(result.task_results()) == []  # the input check and the update never ran


def test_a_published_platform_version_is_applied_once(aws, emulator, playbook):
    eb, base = aws("elasticbeanstalk"), f"ebpu{uuid.uuid4().hex[:6]}"
    name = f"{base}-local"
    eb.create_application(ApplicationName=name)
    eb.create_environment(
        ApplicationName=name, EnvironmentName=f"{name}-web", SolutionStackName=STACK
    )
    eb.get_waiter("environment_exists").wait(
        EnvironmentNames=[f"{name}-web"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    first = _run(playbook, base)
    assert first.ok, first.messages()
    assert first.stats["localhost"]["changed"] == 0  # nothing pending

    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/fidelity/elasticbeanstalk/platforms",
        data=json.dumps({"SolutionStackName": NEWER}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    # What make patch runs: patch.yml finds no host with the Role tag here and ends with this.
    planned = _run(playbook, base, check=True, path=PATCH)
    assert planned.ok and planned.stats["localhost"]["changed"] == 1, planned.messages()
    (env,) = eb.describe_environments(EnvironmentNames=[f"{name}-web"])["Environments"]
    assert env["SolutionStackName"] == STACK

    applied = _run(playbook, base, path=PATCH)
    assert applied.ok and applied.stats["localhost"]["changed"] == 1, applied.messages()
    (env,) = eb.describe_environments(EnvironmentNames=[f"{name}-web"])["Environments"]
    assert (env["SolutionStackName"], env["Status"], env["Health"]) == (NEWER, "Ready", "Green")
    again = _run(playbook, base)
    assert again.ok and again.stats["localhost"]["changed"] == 0, again.messages()

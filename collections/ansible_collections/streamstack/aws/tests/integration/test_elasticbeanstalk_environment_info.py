"""streamstack.aws.elasticbeanstalk_environment_info against the emulator, in one playbook run
(playbooks/elasticbeanstalk_environment_info.yml), the environments taking 1/100 of AWS's time
(Launching 3 s): read at once it is Launching; with wait_for_ready it is read once Ready (in
check mode too: it only reads); a missing environment is reported, not waited for."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "elasticbeanstalk_environment_info.yml"

pytestmark = pytest.mark.beanstalk
STACK = "64bit Amazon Linux 2023 v4.6.0 running Python 3.9"


@pytest.fixture
def timed(emulator):
    yield emulator.timing(1 / 100)
    emulator.timing(0)


def test_read_as_it_is_and_once_ready(playbook, aws, timed):
    eb, name = aws("elasticbeanstalk"), f"ebi-{uuid.uuid4().hex[:8]}"
    eb.create_application(ApplicationName=name)
    eb.create_environment(
        ApplicationName=name, EnvironmentName=f"{name}-web", SolutionStackName=STACK
    )
    result = playbook(PLAYBOOK, extra_vars={"eb_app": name})
    assert result.ok, result.messages()
    step = {task: res for task, _host, res in result.task_results()}
    assert not any(res.get("changed") for res in step.values())
    assert step["As it is"]["exists"] is True
    assert step["As it is"]["environment"]["status"] == "Launching"
    assert step["Once Ready"]["environment"]["status"] == "Ready"
    assert step["Once Ready"]["environment"]["environment_name"] == f"{name}-web"
    assert (step["Missing"]["exists"], step["Missing"]["environment"]) == (False, {})

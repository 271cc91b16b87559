#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: elasticbeanstalk_environment_info
version_added: 0.1.0
short_description: Read an Elastic Beanstalk environment, optionally once it is Ready
description:
  - Describes an application's environment (not a C(Terminated) one) with
    C(DescribeEnvironments). With O(wait_for_ready), first waits while it is C(Launching) or
    C(Updating), so that a step that runs on one of its instances then picks among instances
    that no deployment or platform update is still replacing or deploying to.
  - Reads only; the same in check mode.
author:
  - StreamStack contributors (@streamstack)
options:
  application:
    description: The application's name.
    type: str
    required: true
  name:
    description: The environment's name.
    type: str
    required: true
    aliases: [environment_name]
  wait_for_ready:
    description: Wait until the environment is C(Ready) (its health is not judged).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait at most.
    type: int
    default: 1800
  wait_delay:
    description: Seconds between two looks at the environment.
    type: int
    default: 15
notes:
  - The caller needs C(elasticbeanstalk:DescribeEnvironments) on the environment.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The web environment, once no deployment is under way
  streamstack.aws.elasticbeanstalk_environment_info:
    application: stream-production
    name: stream-production-web
    wait_for_ready: true
  register: web
"""

RETURN = r"""
exists:
  description: Whether the environment exists (and is not Terminated).
  returned: always
  type: bool
environment:
  description: The environment (keys in snake case); empty when it does not exist.
  returned: always
  type: dict
"""

from datetime import UTC, datetime

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.elasticbeanstalk import (
    find_environment,
    wait_for_status,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import AnsibleAWSError


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            application=dict(type="str", required=True),
            name=dict(type="str", required=True, aliases=["environment_name"]),
            wait_for_ready=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=1800),
            wait_delay=dict(type="int", default=15),
        ),
        supports_check_mode=True,
    )
    client = module.client("elasticbeanstalk", retry_decorator=AWSRetry.jittered_backoff())
    try:
        since = datetime.now(UTC)
        env = find_environment(client, module.params["application"], module.params["name"])
        if env is not None and module.params["wait_for_ready"] and env["Status"] != "Ready":
            env = wait_for_status(module, client, env["EnvironmentId"], "Ready", since, False)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    module.exit_json(
        changed=False, exists=env is not None, environment=camel_dict_to_snake_dict(env or {})
    )


if __name__ == "__main__":
    main()

#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: elasticbeanstalk_platform_update
version_added: 0.5.0
short_description: Apply an Elastic Beanstalk environment's pending managed platform update now
description:
  - Elastic Beanstalk's managed platform updates move an environment to the newest platform
    version of its branch (within its C(UpdateLevel)) in its weekly window. This module applies
    the pending one at once - C(DescribeEnvironmentManagedActions), then
    C(ApplyEnvironmentManagedAction) - the way an operator patches outside the window, and
    waits for the environment to be C(Ready) and C(Green) on the new platform version - the
    deployment's health gate. The update rolls with the environment's deployment policy (new
    instances healthy before old ones leave with C(RollingWithAdditionalBatch)).
  - No pending platform update - nothing to do, C(changed=false). In check mode the pending
    update is reported, not applied.
  - AWS applies a managed action only to a C(Ready) environment; the module waits for a
    running operation to end first (O(wait)).
  - AWS starts the applied action asynchronously, so the environment may still read C(Ready) and
    C(Green) on its old platform version right after; the module first waits for the update to
    show (the environment C(Updating), or on another platform version), and fails when the
    environment is C(Ready) again still on the old one (the update failed and was rolled back).
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
  wait:
    description: Wait for the environment to be C(Ready) and C(Green) after the update.
    type: bool
    default: true
  health_grace:
    description:
      - Seconds the updated environment may stay C(Ready) but other than C(Green) before the
        health gate fails, as M(streamstack.aws.elasticbeanstalk_environment)'s; C(Red) with
        errors among the events fails at once.
    type: int
    default: 120
  wait_timeout:
    description: Seconds to wait at most, each time.
    type: int
    default: 3600
  wait_delay:
    description: Seconds between two looks at the environment.
    type: int
    default: 15
notes:
  - The caller needs C(elasticbeanstalk:DescribeEnvironmentManagedActions),
    C(elasticbeanstalk:ApplyEnvironmentManagedAction) and C(elasticbeanstalk:DescribeEnvironments)
    on the environment (and C(DescribeEvents) for the failure report).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Patch the web environment now (its pending managed platform update)
  streamstack.aws.elasticbeanstalk_platform_update:
    application: stream-production
    name: stream-production-web
"""

RETURN = r"""
action:
  description: The managed action applied (or, in check mode, that would be), empty when none.
  returned: always
  type: dict
  contains:
    action_id:
      description: Its id.
      type: str
    action_description:
      description: What it does, e.g. C(Update platform version from 4.6.0 to 4.6.1.).
      type: str
platform_arn:
  description: The environment's platform version after the module (before it in check mode).
  returned: always
  type: str
environment:
  description: The environment (keys in snake case).
  returned: always
  type: dict
events:
  description: The environment's warnings and errors since the update started.
  returned: when waiting failed
  type: list
  elements: str
"""

import time
from datetime import UTC, datetime

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.elasticbeanstalk import (
    environment_by_id,
    find_environment,
    wait_for_status,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    aws_call,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result


class PlatformUpdate:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = module.client("elasticbeanstalk", retry_decorator=AWSRetry.jittered_backoff())

    def find(self):
        env = find_environment(self.client, self.params["application"], self.params["name"])
        if env is None:
            self.module.fail_json(msg=f"No environment {self.params['name']} to update.")
        return env

    def pending(self, env):
        found = aws_call(
            f"list the managed actions of {env['EnvironmentName']}",
            self.client.describe_environment_managed_actions,
            EnvironmentId=env["EnvironmentId"],
        )["ManagedActions"]
        updates = [
            a for a in found if a["ActionType"] == "PlatformUpdate" and a["Status"] == "Scheduled"
        ]
        return updates[0] if updates else None

    def wait_ready(self, env, since, healthy):
        return wait_for_status(
            self.module, self.client, env["EnvironmentId"], "Ready", since, healthy
        )

    def run(self):
        since = datetime.now(UTC)
        env = self.find()
        action = self.pending(env)
        before = {"platform_arn": env["PlatformArn"]}
        if action is None:
            self.exit(env, None, False, before, before)
        # The action names its target in words only (e.g. "Update platform version from 4.6.0
        # to 4.6.1."): the ARN is known once the update is done.
        after = {**before, "pending_update": action["ActionDescription"]}
        if self.module.check_mode:
            self.exit(env, action, True, before, after)
        if env["Status"] != "Ready":
            if not self.params["wait"]:
                self.module.fail_json(
                    msg=f"Environment {self.params['name']} is {env['Status']}; AWS applies a "
                    "managed action only when it is Ready (wait: true waits for that)."
                )
            env = self.wait_ready(env, since, healthy=False)
        aws_call(
            f"apply the platform update of {env['EnvironmentName']}",
            self.client.apply_environment_managed_action,
            EnvironmentId=env["EnvironmentId"],
            ActionId=action["ActionId"],
        )
        if not self.params["wait"]:
            self.exit(self.find(), action, True, before, after)
        self.wait_started(env, before["platform_arn"])
        env = self.wait_ready(env, since, healthy=True)
        if env["PlatformArn"] == before["platform_arn"]:
            self.module.fail_json(
                msg=f"Environment {self.params['name']} is Ready again on its old platform "
                f"version {env['PlatformArn']}: the update ({action['ActionDescription']}) did "
                "not complete; its events say why.",
                environment=camel_dict_to_snake_dict(env),
            )
        self.exit(env, action, True, before, {"platform_arn": env["PlatformArn"]})

    def wait_started(self, env, old_arn):
        """Until the applied update shows: the environment Updating or on another platform
        version (AWS answers the apply before the environment reads so)."""
        deadline = time.monotonic() + self.params["wait_timeout"]
        while True:
            now = environment_by_id(self.client, env["EnvironmentId"])
            if now is None or now["Status"] != "Ready" or now["PlatformArn"] != old_arn:
                return
            if time.monotonic() >= deadline:
                self.module.fail_json(
                    msg=f"Environment {self.params['name']} still reads Ready on its old "
                    f"platform version {old_arn} {self.params['wait_timeout']} s after the "
                    "update was applied.",
                    environment=camel_dict_to_snake_dict(now),
                )
            time.sleep(self.params["wait_delay"])

    def exit(self, env, action, changed, before, after):
        self.module.exit_json(
            changed=changed,
            action=camel_dict_to_snake_dict(action or {}),
            platform_arn=env["PlatformArn"],
            environment=camel_dict_to_snake_dict(env),
            **diff_result(self.module, before, after),
        )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            application=dict(type="str", required=True),
            name=dict(type="str", required=True, aliases=["environment_name"]),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=3600),
            wait_delay=dict(type="int", default=15),
            health_grace=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    try:
        PlatformUpdate(module).run()
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()

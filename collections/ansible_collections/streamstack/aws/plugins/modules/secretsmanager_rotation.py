#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: secretsmanager_rotation
version_added: 0.1.0
short_description: The version stages of a Secrets Manager rotation, driven from a playbook
description:
  - Moves a secret through the steps a rotation function performs, for a rotation run by a
    playbook instead of a Lambda function - C(create) puts a new version labelled
    C(AWSPENDING) (unless one is pending already, which is then resumed), the caller sets and
    tests it where the credentials live, and C(finish) moves C(AWSCURRENT) to it (Secrets
    Manager labels the old one C(AWSPREVIOUS)) and removes C(AWSPENDING).
  - C(info) changes nothing. Every step returns the current version's id and age and the
    pending version's id, never a secret value.
  - M(community.aws.secretsmanager_secret) only writes C(AWSCURRENT) versions and has no stages.
author:
  - StreamStack contributors
options:
  name:
    description:
      - Name or ARN of the secret.
    type: str
    required: true
  step:
    description:
      - C(info), C(create) (a pending version with O(value) unless one exists) or C(finish)
        (the pending version becomes current; nothing when none is pending).
    type: str
    choices: [info, create, finish]
    default: info
  value:
    description:
      - C(create) - the pending version's JSON document. Not used when a version is pending.
    type: dict
notes:
  - Supports C(check_mode) and C(diff) (version ids only).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: A pending version for the other user of the pair
  streamstack.aws.secretsmanager_rotation:
    name: stream-production/db-app
    step: create
    value: {username: streamapp_app_user_clone, password: "{{ new_password }}"}
  no_log: true

- name: The pending version becomes current
  streamstack.aws.secretsmanager_rotation:
    name: stream-production/db-app
    step: finish
"""

RETURN = r"""
current_version_id:
  description: The version labelled AWSCURRENT after the task.
  returned: always
  type: str
current_age_days:
  description: Days since that version was created.
  returned: always
  type: float
pending_version_id:
  description: The version labelled AWSPENDING (and not AWSCURRENT) after the task, or empty.
  returned: always
  type: str
"""

import datetime
import json
import uuid

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    AWSErrorHandler,
    aws_call,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result

CHECK_MODE_VERSION = "(made by the run)"


@error_handler("ResourceNotFoundException").list_error_handler("describe secret {name}")
def describe_secret(client, name):
    return client.describe_secret(aws_retry=True, SecretId=name)


def stages(module, client, name):
    """(current version id, pending version id or "") from DescribeSecret."""
    found = describe_secret(client, name)
    if found is None:
        module.fail_json(msg=f"secret {name} does not exist")
    labels = found.get("VersionIdsToStages", {})
    current = next((v for v, s in labels.items() if "AWSCURRENT" in s), "")
    # A label left on the current version by a finished rotation is not a pending one.
    pending = next((v for v, s in labels.items() if "AWSPENDING" in s and v != current), "")
    return current, pending


@AWSErrorHandler.common_error_handler("list the versions of {name}")
def list_versions(client, name):
    """The versions that have a staging label (botocore has no paginator for this call)."""
    versions, request = [], {"SecretId": name, "MaxResults": 100}
    while True:
        page = client.list_secret_version_ids(aws_retry=True, **request)
        versions += page["Versions"]
        if not page.get("NextToken"):
            return versions
        request["NextToken"] = page["NextToken"]


def age_days(client, name, version):
    """Days since ``version`` was created, from ListSecretVersionIds: the versions' dates without
    their values (GetSecretValue would read the login only to date it)."""
    created = {v["VersionId"]: v["CreatedDate"] for v in list_versions(client, name)}[version]
    now = datetime.datetime.now(datetime.UTC)
    return round((now - created).total_seconds() / 86400, 4)


@AWSErrorHandler.common_error_handler("make the pending version of {name} current")
def make_current(client, name, pending, current):
    client.update_secret_version_stage(
        aws_retry=True,
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending,
        RemoveFromVersionId=current,
    )
    client.update_secret_version_stage(
        aws_retry=True, SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=pending
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            step=dict(type="str", choices=["info", "create", "finish"], default="info"),
            value=dict(type="dict", no_log=True),
        ),
        required_if=[("step", "create", ["value"])],
        supports_check_mode=True,
    )
    name, step = module.params["name"], module.params["step"]
    client = module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff())
    try:
        current, pending = stages(module, client, name)
        before = {"current_version_id": current, "pending_version_id": pending}
        after = dict(before)
        changed = False

        if step == "create" and not pending:
            changed = True
            after["pending_version_id"] = CHECK_MODE_VERSION
            if not module.check_mode:
                aws_call(
                    f"put a pending version of {name}",
                    client.put_secret_value,
                    SecretId=name,
                    ClientRequestToken=str(uuid.uuid4()),
                    SecretString=json.dumps(module.params["value"]),
                    VersionStages=["AWSPENDING"],
                )
                current, after["pending_version_id"] = stages(module, client, name)
        elif step == "finish" and pending:
            changed = True
            after = {"current_version_id": pending, "pending_version_id": ""}
            if not module.check_mode:
                make_current(client, name, pending, current)
                after["current_version_id"], after["pending_version_id"] = stages(
                    module, client, name
                )

        module.exit_json(
            changed=changed,
            current_version_id=after["current_version_id"],
            current_age_days=age_days(client, name, after["current_version_id"]),
            pending_version_id=after["pending_version_id"],
            **diff_result(module, before, after),
        )
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()

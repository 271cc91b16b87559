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

import contextlib
import datetime
import json
import uuid

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    import botocore

CHECK_MODE_VERSION = "(made by the run)"


def stages(module, client, name):
    """(current version id, pending version id or "") from DescribeSecret."""
    try:
        found = client.describe_secret(aws_retry=True, SecretId=name)
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"secret {name} does not exist")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to describe secret {name}")
    labels = found.get("VersionIdsToStages", {})
    current = next((v for v, s in labels.items() if "AWSCURRENT" in s), "")
    # A label left on the current version by a finished rotation is not a pending one.
    pending = next((v for v, s in labels.items() if "AWSPENDING" in s and v != current), "")
    return current, pending


def age_days(module, client, name, version):
    """Days since ``version`` was created (GetSecretValue's CreatedDate; the value is dropped)."""
    try:
        created = client.get_secret_value(aws_retry=True, SecretId=name, VersionId=version)[
            "CreatedDate"
        ]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to read the creation date of {name}")
    now = datetime.datetime.now(datetime.UTC)
    return round((now - created).total_seconds() / 86400, 4)


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
    current, pending = stages(module, client, name)
    before = {"current_version_id": current, "pending_version_id": pending}
    after = dict(before)
    changed = False

    if step == "create" and not pending:
        changed = True
        after["pending_version_id"] = CHECK_MODE_VERSION
        if not module.check_mode:
            try:
                client.put_secret_value(
                    aws_retry=True,
                    SecretId=name,
                    ClientRequestToken=str(uuid.uuid4()),
                    SecretString=json.dumps(module.params["value"]),
                    VersionStages=["AWSPENDING"],
                )
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                module.fail_json_aws(e, msg=f"Failed to put a pending version of {name}")
            current, after["pending_version_id"] = stages(module, client, name)
    elif step == "finish" and pending:
        changed = True
        after = {"current_version_id": pending, "pending_version_id": ""}
        if not module.check_mode:
            try:
                client.update_secret_version_stage(
                    aws_retry=True,
                    SecretId=name,
                    VersionStage="AWSCURRENT",
                    MoveToVersionId=pending,
                    RemoveFromVersionId=current,
                )
                client.update_secret_version_stage(
                    aws_retry=True,
                    SecretId=name,
                    VersionStage="AWSPENDING",
                    RemoveFromVersionId=pending,
                )
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                module.fail_json_aws(e, msg=f"Failed to make the pending version of {name} current")
            after["current_version_id"], after["pending_version_id"] = stages(module, client, name)

    module.exit_json(
        changed=changed,
        current_version_id=after["current_version_id"],
        current_age_days=age_days(module, client, name, after["current_version_id"]),
        pending_version_id=after["pending_version_id"],
        diff={"before": before, "after": after},
    )


if __name__ == "__main__":
    main()

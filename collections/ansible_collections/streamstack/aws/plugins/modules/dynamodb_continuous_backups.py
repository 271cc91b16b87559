#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dynamodb_continuous_backups
version_added: 0.1.0
short_description: Turn DynamoDB point-in-time recovery on or off
description:
  - Manages a DynamoDB table's continuous backups (point-in-time recovery), which
    M(community.aws.dynamodb_table) does not cover.
  - Idempotent - reads C(DescribeContinuousBackups) and calls C(UpdateContinuousBackups) only when
    the state differs.
author:
  - StreamStack contributors
options:
  table_name:
    description:
      - Name of the table.
    type: str
    required: true
  point_in_time_recovery:
    description:
      - Whether point-in-time recovery is enabled.
    type: bool
    default: true
  recovery_period_days:
    description:
      - Days of recovery window (1-35); AWS's default of 35 when omitted.
    type: int
notes:
  - Supports C(check_mode) and C(diff).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Point-in-time recovery for the sessions table
  streamstack.aws.dynamodb_continuous_backups:
    table_name: stream-production-sessions
    point_in_time_recovery: true
"""

RETURN = r"""
point_in_time_recovery:
  description: The table's point-in-time recovery description after the task.
  returned: always
  type: dict
  contains:
    point_in_time_recovery_status:
      description: C(ENABLED) or C(DISABLED).
      type: str
      sample: ENABLED
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.dynamodb import (
    update_continuous_backups,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result


@error_handler("TableNotFoundException").list_error_handler(
    "describe continuous backups of {table}"
)
def describe_backups(client, table):
    return client.describe_continuous_backups(aws_retry=True, TableName=table)


def describe(module, client, table):
    found = describe_backups(client, table)
    if found is None:
        module.fail_json(msg=f"DynamoDB table {table} does not exist")
    return found["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            table_name=dict(type="str", required=True),
            point_in_time_recovery=dict(type="bool", default=True),
            recovery_period_days=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    table = module.params["table_name"]
    enabled = module.params["point_in_time_recovery"]
    period = module.params["recovery_period_days"]
    if period is not None and not 1 <= period <= 35:
        module.fail_json(msg=f"recovery_period_days must be 1-35, got {period}")

    client = module.client("dynamodb", retry_decorator=AWSRetry.jittered_backoff())
    try:
        ensure(module, client, table, enabled, period)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


def ensure(module, client, table, enabled, period):
    current = describe(module, client, table)
    is_enabled = current.get("PointInTimeRecoveryStatus") == "ENABLED"
    wanted_period = period if period is not None else current.get("RecoveryPeriodInDays")
    changed = is_enabled != enabled or (
        enabled and period is not None and current.get("RecoveryPeriodInDays") not in (None, period)
    )

    after = dict(current, PointInTimeRecoveryStatus="ENABLED" if enabled else "DISABLED")
    if changed and not module.check_mode:
        spec = {"PointInTimeRecoveryEnabled": enabled}
        if enabled and wanted_period is not None:
            spec["RecoveryPeriodInDays"] = wanted_period
        update_continuous_backups(client, table, spec)
        after = describe(module, client, table)

    module.exit_json(
        changed=changed,
        point_in_time_recovery=camel_dict_to_snake_dict(after),
        **diff_result(
            module, {"point_in_time_recovery": is_enabled}, {"point_in_time_recovery": enabled}
        ),
    )


if __name__ == "__main__":
    main()

#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dynamodb_table
version_added: 0.2.0
short_description: Manage a DynamoDB table with its TTL and point-in-time recovery in one task
description:
  - Creates or deletes a DynamoDB table and manages its billing mode, tags, time to live and
    point-in-time recovery in one module call - where M(community.aws.dynamodb_table),
    M(community.aws.dynamodb_ttl) and M(streamstack.aws.dynamodb_continuous_backups) take three
    (three Python start-ups, three boto3 imports).
  - Idempotent - reads the table, its TTL, its continuous backups and its tags, and changes only
    what differs.
  - The key schema of an existing table cannot change; the task fails naming the difference.
author:
  - StreamStack contributors (@streamstack)
options:
  name:
    description: Table name.
    type: str
    required: true
  hash_key_name:
    description: Partition key attribute. Required to create the table.
    type: str
  hash_key_type:
    description: Partition key type.
    type: str
    choices: [STRING, NUMBER, BINARY]
    default: STRING
  range_key_name:
    description: Sort key attribute, if any.
    type: str
  range_key_type:
    description: Sort key type.
    type: str
    choices: [STRING, NUMBER, BINARY]
    default: STRING
  billing_mode:
    description: On-demand (V(PAY_PER_REQUEST)) or provisioned capacity.
    type: str
    choices: [PAY_PER_REQUEST, PROVISIONED]
    default: PAY_PER_REQUEST
  read_capacity:
    description: Read capacity units with O(billing_mode=PROVISIONED).
    type: int
    default: 1
  write_capacity:
    description: Write capacity units with O(billing_mode=PROVISIONED).
    type: int
    default: 1
  ttl_attribute:
    description:
      - Attribute holding each item's expiry time (epoch seconds); TTL is enabled on it.
      - V(null) leaves TTL as it is; an empty string disables it.
    type: str
  point_in_time_recovery:
    description: Whether point-in-time recovery is on. V(null) leaves it as it is.
    type: bool
  wait_timeout:
    description: Seconds to wait for a new or deleted table.
    type: int
    default: 300
notes:
  - AWS allows one TTL change per table per hour; enabling TTL on a table that just had it
    disabled fails with AWS's message.
extends_documentation_fragment:
  - amazon.aws.tags
  - streamstack.aws.state
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Sessions table, on demand, items expiring on expires_at, point-in-time recovery
  streamstack.aws.dynamodb_table:
    name: stream-production-sessions
    hash_key_name: pk
    billing_mode: PAY_PER_REQUEST
    ttl_attribute: expires_at
    point_in_time_recovery: true
    tags:
      Project: stream
      Environment: production
"""

RETURN = r"""
table:
  description: The table after the task (C(DescribeTable), snake_cased); empty when absent.
  returned: always
  type: dict
  contains:
    table_name:
      description: Name.
      type: str
      sample: stream-production-sessions
    table_arn:
      description: ARN (not known in check mode before the table exists).
      type: str
    table_status:
      description: Status.
      type: str
      sample: ACTIVE
    ttl_attribute:
      description: The TTL attribute when TTL is enabled, else an empty string.
      type: str
      sample: expires_at
    point_in_time_recovery:
      description: Whether point-in-time recovery is on.
      type: bool
    tags:
      description: Tags.
      type: dict
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.streamstack.aws.plugins.module_utils.dynamodb import (
    DYNAMODB_ERRORS,
    update_continuous_backups,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import AnsibleAWSError
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)

TYPES = {"STRING": "S", "NUMBER": "N", "BINARY": "B"}


@DYNAMODB_ERRORS.list_error_handler("describe table {name}")
def describe_table(client, name):
    return client.describe_table(aws_retry=True, TableName=name)["Table"]


@DYNAMODB_ERRORS.common_error_handler("describe the settings of table {name}")
def describe_settings(client, name, arn):
    """(TTL description, point-in-time recovery description, tags response) of a table."""
    ttl = client.describe_time_to_live(aws_retry=True, TableName=name)
    backups = client.describe_continuous_backups(aws_retry=True, TableName=name)
    return (
        ttl.get("TimeToLiveDescription", {}),
        backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {}),
        client.list_tags_of_resource(aws_retry=True, ResourceArn=arn),
    )


def describe(client, name):
    """The table with its TTL, point-in-time recovery and tags, or None."""
    table = describe_table(client, name)
    if table is None:
        return None
    ttl, pitr, tags = describe_settings(client, name, table["TableArn"])
    table["ttl_attribute"] = (
        ttl.get("AttributeName", "")
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        else ""
    )
    table["point_in_time_recovery"] = pitr.get("PointInTimeRecoveryStatus") == "ENABLED"
    table["tags"] = boto3_tag_list_to_ansible_dict(tags.get("Tags") or [])
    return table


def key_schema(params):
    keys = [(params["hash_key_name"], "HASH", params["hash_key_type"])]
    if params["range_key_name"]:
        keys.append((params["range_key_name"], "RANGE", params["range_key_type"]))
    return keys


def live_key_schema(table):
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    names = {v: k for k, v in TYPES.items()}
    return [
        (k["AttributeName"], k["KeyType"], names.get(types.get(k["AttributeName"]), "?"))
        for k in table["KeySchema"]
    ]


def billing(table):
    mode = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    throughput = table.get("ProvisionedThroughput") or {}
    if mode == "PAY_PER_REQUEST":
        return {"mode": mode}
    return {
        "mode": mode,
        "read": throughput.get("ReadCapacityUnits"),
        "write": throughput.get("WriteCapacityUnits"),
    }


def wanted_billing(params):
    if params["billing_mode"] == "PAY_PER_REQUEST":
        return {"mode": "PAY_PER_REQUEST"}
    return {
        "mode": "PROVISIONED",
        "read": params["read_capacity"],
        "write": params["write_capacity"],
    }


def view(table):
    return {
        "billing": billing(table),
        "ttl_attribute": table["ttl_attribute"],
        "point_in_time_recovery": table["point_in_time_recovery"],
        "tags": table["tags"],
    }


def wanted_view(module, current):
    params = module.params
    live = view(current) if current else {"ttl_attribute": "", "point_in_time_recovery": False}
    tags = planned_tags(live.get("tags", {}), params["tags"], params["purge_tags"])
    return {
        "billing": wanted_billing(params),
        "ttl_attribute": live["ttl_attribute"]
        if params["ttl_attribute"] is None
        else params["ttl_attribute"],
        "point_in_time_recovery": live["point_in_time_recovery"]
        if params["point_in_time_recovery"] is None
        else params["point_in_time_recovery"],
        "tags": tags,
    }


def billing_request(params):
    request = {"BillingMode": params["billing_mode"]}
    if params["billing_mode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = {
            "ReadCapacityUnits": params["read_capacity"],
            "WriteCapacityUnits": params["write_capacity"],
        }
    return request


@DYNAMODB_ERRORS.common_error_handler("wait for table {name} ({waiter})")
def wait(module, client, waiter, name):
    delay = 5
    client.get_waiter(waiter).wait(
        TableName=name,
        WaiterConfig={
            "Delay": delay,
            "MaxAttempts": max(1, module.params["wait_timeout"] // delay),
        },
    )


def create(module, client, name):
    params = module.params
    keys = key_schema(params)
    request = dict(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind, _ in keys],
        AttributeDefinitions=[
            {"AttributeName": key, "AttributeType": TYPES[kind]} for key, _, kind in keys
        ],
        **billing_request(params),
    )
    if params["tags"]:
        request["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
    client.create_table(aws_retry=True, **request)
    wait(module, client, "table_exists", name)


@DYNAMODB_ERRORS.common_error_handler("create or update table {name}")
def apply_settings(module, client, name, current, wanted):
    """Brings billing, TTL, PITR and tags of an existing (or just created) table in line."""
    params = module.params
    if current is None:
        create(module, client, name)
    if current is not None and billing(current) != wanted["billing"]:
        client.update_table(aws_retry=True, TableName=name, **billing_request(params))
        wait(module, client, "table_exists", name)
    live_ttl = current["ttl_attribute"] if current else ""
    if wanted["ttl_attribute"] != live_ttl:
        attribute = wanted["ttl_attribute"] or live_ttl
        client.update_time_to_live(
            aws_retry=True,
            TableName=name,
            TimeToLiveSpecification={
                "Enabled": bool(wanted["ttl_attribute"]),
                "AttributeName": attribute,
            },
        )
    live_pitr = current["point_in_time_recovery"] if current else False
    if wanted["point_in_time_recovery"] != live_pitr:
        update_continuous_backups(
            client, name, {"PointInTimeRecoveryEnabled": wanted["point_in_time_recovery"]}
        )
    if current is not None:
        arn = current["TableArn"]
        sync_tags(
            module,
            current["tags"],
            params["tags"],
            params["purge_tags"],
            tag=lambda add: client.tag_resource(
                aws_retry=True, ResourceArn=arn, Tags=ansible_dict_to_boto3_tag_list(add)
            ),
            untag=lambda keys: client.untag_resource(aws_retry=True, ResourceArn=arn, TagKeys=keys),
        )


def to_result(table):
    result = camel_dict_to_snake_dict(
        {k: v for k, v in table.items() if k not in ("tags", "ttl_attribute")},
    )
    result.update(
        tags=table["tags"],
        ttl_attribute=table["ttl_attribute"],
        point_in_time_recovery=table["point_in_time_recovery"],
    )
    return result


@DYNAMODB_ERRORS.deletion_error_handler("delete table {name}")
def delete_table(client, name):
    client.delete_table(aws_retry=True, TableName=name)


def ensure_absent(module, client, name, current):
    if current is not None and not module.check_mode:
        delete_table(client, name)
        wait(module, client, "table_not_exists", name)
    module.exit_json(
        changed=current is not None,
        table={},
        **diff_result(module, view(current) if current else {}, {}),
    )


def ensure(module, client, name):
    current = describe(client, name)
    if module.params["state"] == "absent":
        ensure_absent(module, client, name, current)

    if module.params["hash_key_name"] is None:
        module.fail_json(msg="hash_key_name is required with state=present")
    if current is not None and live_key_schema(current) != key_schema(module.params):
        module.fail_json(
            msg=f"The key schema of table {name} cannot change: it is"
            f" {live_key_schema(current)}, the task asks for {key_schema(module.params)}"
        )
    wanted = wanted_view(module, current)
    before = view(current) if current else {}
    changed = current is None or before != wanted
    if changed and not module.check_mode:
        apply_settings(module, client, name, current, wanted)
        current = describe(client, name)
    if module.check_mode and changed:
        table = dict(to_result(current) if current else {"table_name": name}, **wanted)
        table.pop("billing", None)
    else:
        table = to_result(current)
    module.exit_json(changed=changed, table=table, **diff_result(module, before, wanted))


def main():
    key_types = ["STRING", "NUMBER", "BINARY"]
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            hash_key_name=dict(type="str"),
            hash_key_type=dict(type="str", choices=key_types, default="STRING"),
            range_key_name=dict(type="str"),
            range_key_type=dict(type="str", choices=key_types, default="STRING"),
            billing_mode=dict(
                type="str", choices=["PAY_PER_REQUEST", "PROVISIONED"], default="PAY_PER_REQUEST"
            ),
            read_capacity=dict(type="int", default=1),
            write_capacity=dict(type="int", default=1),
            ttl_attribute=dict(type="str"),
            point_in_time_recovery=dict(type="bool"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    client = module.client("dynamodb", retry_decorator=AWSRetry.jittered_backoff())
    try:
        ensure(module, client, module.params["name"])
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()

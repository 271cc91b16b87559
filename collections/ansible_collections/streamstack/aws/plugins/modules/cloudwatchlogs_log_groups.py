#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatchlogs_log_groups
version_added: 0.2.0
short_description: Manage a set of CloudWatch Logs log groups in one task
description:
  - Creates log groups, sets their retention and tags, or deletes them - several groups in one
    module call, where M(amazon.aws.cloudwatchlogs_log_group) needs one call (one Python
    start-up, one boto3 import) per group.
  - Idempotent - reads the groups (C(DescribeLogGroups), C(ListTagsForResource)) and changes
    only what differs. Tags go through the generic tagging API (C(TagResource),
    C(UntagResource) on the group's C(logGroupArn)), not the deprecated C(TagLogGroup) family.
  - With O(log_group_name_prefix) and O(state=absent), deletes every group whose name starts
    with the prefix and whose tags include all of O(tags) (a teardown that finds an
    environment's groups by their tags).
author:
  - StreamStack contributors (@streamstack)
options:
  log_groups:
    description:
      - The log groups. Required unless O(log_group_name_prefix) is given.
    type: list
    elements: dict
    suboptions:
      name:
        description: Log group name.
        type: str
        required: true
      retention:
        description:
          - Days to keep events, one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30,
            60, 90, ...). V(null) keeps them forever.
        type: int
      kms_key_id:
        description:
          - ARN of the KMS key that encrypts the group's data, set when the group is created (an
            existing group's key is not changed).
        type: str
  log_group_name_prefix:
    description:
      - With O(state=absent) only, instead of O(log_groups) - the groups whose names start with
        this prefix and whose tags include all of O(tags) (every such group if O(tags) is not
        given) are deleted.
    type: str
  tags:
    description:
      - Tags of every group. V(null) leaves the tags alone.
      - With O(log_group_name_prefix), the tags a group must carry to be deleted.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description: Whether tags not in O(tags) are removed.
    type: bool
    default: true
  state:
    description:
      - V(present) creates or updates the groups, V(absent) deletes them (with their events).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff) (retention and tags of each group, keyed by name).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Log groups the CloudWatch agent ships to
  streamstack.aws.cloudwatchlogs_log_groups:
    log_groups:
      - {name: /stream/production/nginx, retention: 30}
      - {name: /stream/production/app, retention: 30}
      - {name: /stream/production/worker, retention: 30}
    tags:
      Project: stream
      Environment: production

- name: Delete them
  streamstack.aws.cloudwatchlogs_log_groups:
    log_groups: [{name: /stream/production/nginx}, {name: /stream/production/app}]
    state: absent

- name: Delete every group of the environment (under its prefix, with its tags)
  streamstack.aws.cloudwatchlogs_log_groups:
    log_group_name_prefix: /stream/production/
    tags: {Project: stream, Environment: production}
    state: absent
"""

RETURN = r"""
log_groups:
  description: The groups after the task, in the order given (absent ones are left out).
  returned: always
  type: list
  elements: dict
  contains:
    log_group_name:
      description: Name.
      type: str
      sample: /stream/production/app
    arn:
      description: ARN (not known in check mode before the group exists).
      type: str
    retention_in_days:
      description: Retention in days; absent when events are kept forever.
      type: int
      sample: 30
    tags:
      description: Tags.
      type: dict
      sample: {Project: stream}
created:
  description: Names of the groups created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the groups whose retention or tags changed (or would).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the groups deleted (or that would be).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import (
    exit_absent,
    exit_present,
    require_unique,
)
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)

LOGS_ERRORS = error_handler("ResourceNotFoundException")


def group_arn(group):
    """The ARN the tagging API takes: ``logGroupArn``, or ``arn`` without its ``:*``."""
    return group.get("logGroupArn") or group["arn"].removesuffix(":*")


def with_tags(client, group):
    """The group with its tags, or None when it was deleted meanwhile."""
    try:
        response = client.list_tags_for_resource(aws_retry=True, resourceArn=group_arn(group))
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    return dict(group, tags=response["tags"])


@LOGS_ERRORS.common_error_handler("describe the log groups")
def describe(client, names):
    """The named groups that exist, keyed by name, with their tags."""
    found = {}
    paginator = client.get_paginator("describe_log_groups")
    for name in names:
        pages = paginator.paginate(logGroupNamePrefix=name).build_full_result()
        group = next((g for g in pages["logGroups"] if g["logGroupName"] == name), None)
        group = with_tags(client, group) if group else None
        if group is not None:
            found[name] = group
    return found


@LOGS_ERRORS.common_error_handler("describe the log groups under {prefix}")
def describe_prefix(client, prefix, tags):
    """The groups under the prefix whose tags include all of ``tags``, keyed by name."""
    found = {}
    paginator = client.get_paginator("describe_log_groups")
    for group in paginator.paginate(logGroupNamePrefix=prefix).build_full_result()["logGroups"]:
        group = with_tags(client, group)
        if group is not None and tags.items() <= group["tags"].items():
            found[group["logGroupName"]] = group
    return found


@LOGS_ERRORS.deletion_error_handler("delete log group {name}")
def delete_group(client, name):
    client.delete_log_group(aws_retry=True, logGroupName=name)


def view(group):
    return {"retention": group.get("retentionInDays"), "tags": group.get("tags", {})}


def to_result(group):
    return camel_dict_to_snake_dict(group, ignore_list=["tags"])


def planned(name, wanted):
    return {
        "log_group_name": name,
        "retention_in_days": wanted["retention"],
        "tags": wanted["tags"],
    }


@LOGS_ERRORS.common_error_handler("create or update log group {name}")
def apply(module, client, name, spec, current):
    """Creates or updates one group; returns whether anything changed."""
    retention = spec["retention"]
    tags, purge = module.params["tags"], module.params["purge_tags"]
    check = module.check_mode
    if current is None:
        if not check:
            request = {"logGroupName": name}
            if tags:
                request["tags"] = tags
            if spec["kms_key_id"]:
                request["kmsKeyId"] = spec["kms_key_id"]
            client.create_log_group(aws_retry=True, **request)
            if retention is not None:
                client.put_retention_policy(
                    aws_retry=True, logGroupName=name, retentionInDays=retention
                )
        return True
    changed = False
    if current.get("retentionInDays") != retention:
        changed = True
        if check:
            pass
        elif retention is None:
            client.delete_retention_policy(aws_retry=True, logGroupName=name)
        else:
            client.put_retention_policy(
                aws_retry=True, logGroupName=name, retentionInDays=retention
            )
    arn = group_arn(current)
    return (
        sync_tags(
            module,
            current.get("tags", {}),
            tags,
            purge,
            tag=lambda add: client.tag_resource(aws_retry=True, resourceArn=arn, tags=add),
            untag=lambda keys: client.untag_resource(aws_retry=True, resourceArn=arn, tagKeys=keys),
        )
        or changed
    )


def run(module, client):
    prefix = module.params["log_group_name_prefix"]
    if prefix:
        live = describe_prefix(client, prefix, module.params["tags"] or {})
        specs, names = {}, sorted(live)
    else:
        specs = {spec["name"]: spec for spec in module.params["log_groups"]}
        names = [spec["name"] for spec in module.params["log_groups"]]
        require_unique(module, names, "log groups")
        live = describe(client, names)

    if module.params["state"] == "absent":
        deleted = [name for name in names if name in live]
        exit_absent(
            module,
            "log_groups",
            deleted,
            lambda name: delete_group(client, name),
            before={name: view(live[name]) for name in deleted},
        )
    tags, purge = module.params["tags"], module.params["purge_tags"]
    exit_present(
        module,
        "log_groups",
        names,
        live,
        apply=lambda name, current: apply(module, client, name, specs[name], current),
        view=view,
        wanted_view=lambda name, current: {
            "retention": specs[name]["retention"],
            "tags": planned_tags((current or {}).get("tags", {}), tags, purge),
        },
        result=to_result,
        planned=planned,
        refresh=lambda: describe(client, names),
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            log_groups=dict(
                type="list",
                elements="dict",
                options=dict(
                    name=dict(type="str", required=True),
                    retention=dict(type="int"),
                    kms_key_id=dict(type="str"),
                ),
            ),
            log_group_name_prefix=dict(type="str"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_one_of=[["log_groups", "log_group_name_prefix"]],
        mutually_exclusive=[["log_groups", "log_group_name_prefix"]],
        required_if=[["state", "present", ["log_groups"]]],
        supports_check_mode=True,
    )
    prefix = module.params["log_group_name_prefix"]
    if prefix is not None and not prefix:
        module.fail_json(msg="log_group_name_prefix must not be empty (it would match every group)")
    client = module.client("logs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        run(module, client)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()

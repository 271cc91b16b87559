#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_flow_log
version_added: 0.3.0
short_description: Manage the flow log of a VPC, subnet or network interface
description:
  - Creates, replaces or deletes the flow log that sends one resource's IP traffic records to a
    destination - an S3 bucket (and prefix) or a CloudWatch Logs log group.
  - The flow log is found by its resource and destination (C(DescribeFlowLogs)); a resource
    may have other flow logs, to other destinations, which this module leaves alone.
  - AWS cannot change a flow log. A different traffic type, record format or aggregation
    interval replaces it - the new one is created before the old one is deleted, so no records
    are lost. Tags are updated in place.
author:
  - StreamStack contributors (@streamstack)
options:
  resource_id:
    description: The VPC, subnet or network interface.
    type: str
    required: true
  resource_type:
    description: What O(resource_id) is.
    type: str
    choices: [VPC, Subnet, NetworkInterface]
    default: VPC
  log_destination_type:
    description: V(s3) or V(cloud-watch-logs).
    type: str
    choices: [s3, cloud-watch-logs]
    default: s3
  log_destination:
    description:
      - ARN of the destination - C(arn:aws:s3:::BUCKET/PREFIX) (the prefix is optional; AWS
        writes below C(PREFIX/AWSLogs/ACCOUNT/vpcflowlogs/REGION/)), or a log group's ARN.
      - Required when O(state=present). With O(state=absent) and no destination, every flow
        log of the resource to a destination of O(log_destination_type) is deleted.
    type: str
  deliver_logs_permission_arn:
    description:
      - Role the flow log service assumes to write to a log group (V(cloud-watch-logs) only;
        S3 delivery is granted by the bucket's policy).
    type: str
  traffic_type:
    description: Which traffic is recorded.
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  max_aggregation_interval:
    description: Seconds a record aggregates at most, V(60) or V(600).
    type: int
    choices: [60, 600]
    default: 600
  log_format:
    description:
      - Record fields, for example C(${srcaddr} ${dstaddr} ${action}); AWS's default format
        when left out.
    type: str
extends_documentation_fragment:
  - amazon.aws.tags
  - streamstack.aws.state
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Every connection of the VPC, accepted or refused, into the log bucket
  streamstack.aws.ec2_vpc_flow_log:
    resource_id: vpc-0123456789abcdef0
    log_destination: arn:aws:s3:::stream-production-logs-111122223333/vpc-flow-logs
    tags: {Project: stream, Environment: production}
"""

RETURN = r"""
flow_log:
  description: The flow log (keys in snake case), empty when O(state=absent).
  returned: always
  type: dict
  contains:
    flow_log_id:
      description: Its id (not known in check mode before it exists).
      type: str
      sample: fl-0123456789abcdef0
    log_destination:
      description: Its destination.
      type: str
replaced:
  description: Id of the flow log that a changed setting replaced.
  returned: when a flow log was replaced
  type: str
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_list_to_ansible_dict,
    boto3_tag_specifications,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    AWSErrorHandler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    ec2_tag_calls,
    planned_tags,
    sync_tags,
)

# AWS's default record format (version 2 fields), what a flow log created without one reports.
DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport}"
    " ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)


def wanted_view(params):
    return {
        "traffic_type": params["traffic_type"],
        "max_aggregation_interval": params["max_aggregation_interval"],
        "log_format": params["log_format"] or DEFAULT_FORMAT,
        "deliver_logs_permission_arn": params["deliver_logs_permission_arn"] or "",
    }


def live_view(flow_log):
    return {
        "traffic_type": flow_log.get("TrafficType"),
        "max_aggregation_interval": flow_log.get("MaxAggregationInterval", 600),
        "log_format": flow_log.get("LogFormat") or DEFAULT_FORMAT,
        "deliver_logs_permission_arn": flow_log.get("DeliverLogsPermissionArn") or "",
    }


@AWSErrorHandler.common_error_handler("describe the flow logs of {params[resource_id]}")
def describe(client, params):
    paginator = client.get_paginator("describe_flow_logs")
    return paginator.paginate(
        Filters=[
            {"Name": "resource-id", "Values": [params["resource_id"]]},
            {"Name": "log-destination-type", "Values": [params["log_destination_type"]]},
        ]
    ).build_full_result()["FlowLogs"]


def find(module, client):
    params = module.params
    flow_logs = describe(client, params)
    if not params["log_destination"]:
        return flow_logs
    destination = params["log_destination"].rstrip("/")
    return [f for f in flow_logs if (f.get("LogDestination") or "").rstrip("/") == destination]


@AWSErrorHandler.common_error_handler("create the flow log of {module.params[resource_id]}")
def create(module, client):
    params = module.params
    request = {
        "ResourceIds": [params["resource_id"]],
        "ResourceType": params["resource_type"],
        "TrafficType": params["traffic_type"],
        "LogDestinationType": params["log_destination_type"],
        "LogDestination": params["log_destination"],
        "MaxAggregationInterval": params["max_aggregation_interval"],
    }
    if params["log_format"]:
        request["LogFormat"] = params["log_format"]
    if params["deliver_logs_permission_arn"]:
        request["DeliverLogsPermissionArn"] = params["deliver_logs_permission_arn"]
    if params["tags"]:
        request["TagSpecifications"] = boto3_tag_specifications(
            params["tags"], types="vpc-flow-log"
        )
    response = client.create_flow_logs(aws_retry=True, **request)
    if response.get("Unsuccessful"):
        error = response["Unsuccessful"][0]["Error"]
        module.fail_json(
            msg=f"AWS refused the flow log of {params['resource_id']}: {error.get('Message')}"
            f" ({error.get('Code')})",
        )
    return response["FlowLogIds"][0]


@AWSErrorHandler.common_error_handler("delete flow logs {ids}")
def delete(module, client, ids):
    response = client.delete_flow_logs(aws_retry=True, FlowLogIds=ids)
    failed = [u for u in response.get("Unsuccessful", []) if u.get("Error")]
    if failed:
        module.fail_json(msg=f"AWS refused to delete flow logs: {failed}")


@AWSErrorHandler.common_error_handler("describe flow log {flow_log_id}")
def describe_one(client, flow_log_id):
    found = client.describe_flow_logs(aws_retry=True, FlowLogIds=[flow_log_id])["FlowLogs"]
    # Not listed yet (AWS is eventually consistent): the id is known all the same.
    if not found:
        return {"flow_log_id": flow_log_id}
    return camel_dict_to_snake_dict(found[0], ignore_list=["Tags"])


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            resource_id=dict(type="str", required=True),
            resource_type=dict(
                type="str", default="VPC", choices=["VPC", "Subnet", "NetworkInterface"]
            ),
            log_destination_type=dict(type="str", default="s3", choices=["s3", "cloud-watch-logs"]),
            log_destination=dict(type="str"),
            deliver_logs_permission_arn=dict(type="str"),
            traffic_type=dict(type="str", default="ALL", choices=["ACCEPT", "REJECT", "ALL"]),
            max_aggregation_interval=dict(type="int", default=600, choices=[60, 600]),
            log_format=dict(type="str"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["log_destination"])],
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        ensure(module, client)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


def ensure(module, client):
    params, check = module.params, module.check_mode
    found = find(module, client)

    if params["state"] == "absent":
        ids = [f["FlowLogId"] for f in found]
        if ids and not check:
            delete(module, client, ids)
        module.exit_json(
            changed=bool(ids),
            flow_log={},
            **diff_result(module, {f["FlowLogId"]: live_view(f) for f in found}, {}),
        )

    if (
        params["log_destination_type"] == "cloud-watch-logs"
        and not params["deliver_logs_permission_arn"]
    ):
        module.fail_json(msg="a flow log to cloud-watch-logs needs deliver_logs_permission_arn")
    wanted = wanted_view(params)
    same = [f for f in found if live_view(f) == wanted]
    if not same:
        before = live_view(found[0]) if found else {}
        if check:
            module.exit_json(changed=True, flow_log={}, **diff_result(module, before, wanted))
        new_id = create(module, client)
        if found:
            delete(module, client, [f["FlowLogId"] for f in found])
        result = dict(
            changed=True,
            flow_log=describe_one(client, new_id),
            **diff_result(module, before, wanted),
        )
        if found:
            result["replaced"] = found[0]["FlowLogId"]
        module.exit_json(**result)

    flow_log, extra = same[0], [f["FlowLogId"] for f in found if f is not same[0]]
    changed = bool(extra)
    if extra and not check:
        delete(module, client, extra)  # duplicates to the same destination
    live_tags = boto3_tag_list_to_ansible_dict(flow_log.get("Tags", []))
    tags = planned_tags(live_tags, params["tags"], params["purge_tags"])
    if retag(module, client, flow_log["FlowLogId"], live_tags):
        changed = True
    result_log = camel_dict_to_snake_dict(flow_log, ignore_list=["Tags"])
    result_log["tags"] = tags
    module.exit_json(
        changed=changed,
        flow_log=result_log,
        **diff_result(module, dict(live_view(flow_log), tags=live_tags), dict(wanted, tags=tags)),
    )


@AWSErrorHandler.common_error_handler("tag flow log {flow_log_id}")
def retag(module, client, flow_log_id, live_tags):
    params = module.params
    return sync_tags(
        module,
        live_tags,
        params["tags"],
        params["purge_tags"],
        **ec2_tag_calls(client, flow_log_id),
    )


if __name__ == "__main__":
    main()

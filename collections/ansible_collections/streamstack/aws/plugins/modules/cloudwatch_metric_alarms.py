#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_metric_alarms
version_added: 0.2.0
short_description: Manage a set of CloudWatch metric alarms in one task
description:
  - Creates, updates or deletes several CloudWatch metric alarms in one module call, where
    M(amazon.aws.cloudwatch_metric_alarm) needs one call (one Python start-up, one boto3 import)
    per alarm.
  - Reads all named alarms with one C(DescribeAlarms) request and calls C(PutMetricAlarm) only
    for the alarms that are missing or differ, so a second run changes nothing.
  - With O(state=absent) it deletes the listed alarms, or every alarm whose name starts with
    O(name_prefix), with C(DeleteAlarms) (100 names a request).
author:
  - StreamStack contributors (@streamstack)
options:
  alarms:
    description:
      - The alarms. With O(state=absent) only their O(alarms[].name) matters.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Alarm name, unique in the account and region.
        type: str
        required: true
      description:
        description: Alarm description.
        type: str
        default: ""
      namespace:
        description: Metric namespace, for example C(AWS/EC2) or C(CWAgent).
        type: str
      metric_name:
        description: Metric name.
        type: str
        aliases: [metric]
      dimensions:
        description: Metric dimensions, name to value.
        type: dict
        default: {}
      statistic:
        description: Statistic of the metric.
        type: str
        choices: [SampleCount, Average, Sum, Minimum, Maximum]
        default: Average
      comparison:
        description: How the statistic is compared with O(alarms[].threshold).
        type: str
        choices:
          - GreaterThanOrEqualToThreshold
          - GreaterThanThreshold
          - LessThanThreshold
          - LessThanOrEqualToThreshold
        default: GreaterThanThreshold
      threshold:
        description: The value the statistic is compared with.
        type: float
      period:
        description: Seconds over which the statistic is applied (10, 30 or a multiple of 60).
        type: int
        default: 300
      evaluation_periods:
        description: Periods over which data is compared with the threshold.
        type: int
        default: 2
      datapoints_to_alarm:
        description: Breaching data points within the evaluation periods that trigger the alarm.
        type: int
      unit:
        description: Unit of the metric.
        type: str
      treat_missing_data:
        description: How missing data points are treated.
        type: str
        choices: [breaching, notBreaching, ignore, missing]
        default: missing
      actions_enabled:
        description: Whether the actions run on state changes.
        type: bool
        default: true
      alarm_actions:
        description: ARNs notified when the alarm goes to C(ALARM).
        type: list
        elements: str
        default: []
      ok_actions:
        description: ARNs notified when the alarm goes to C(OK).
        type: list
        elements: str
        default: []
      insufficient_data_actions:
        description: ARNs notified when the alarm goes to C(INSUFFICIENT_DATA).
        type: list
        elements: str
        default: []
  name_prefix:
    description:
      - With O(state=absent), delete every alarm whose name starts with this prefix as well.
    type: str
  state:
    description: V(present) creates or updates the alarms, V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff) (the diff shows each alarm's settings, keyed by name).
  - Alarms not listed are left alone with O(state=present).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Alarms of the web tier, notifying one topic
  streamstack.aws.cloudwatch_metric_alarms:
    alarms:
      - name: stream-production-web-cpu-high
        description: Web tier CPU above 80% for 10 minutes
        namespace: AWS/EC2
        metric_name: CPUUtilization
        dimensions: {AutoScalingGroupName: stream-production-web}
        threshold: 80
        alarm_actions: [arn:aws:sns:eu-west-1:123456789012:stream-production-alarms]
        ok_actions: [arn:aws:sns:eu-west-1:123456789012:stream-production-alarms]
      - name: stream-production-transcode-queue-age
        namespace: AWS/SQS
        metric_name: ApproximateAgeOfOldestMessage
        dimensions: {QueueName: stream-production-transcode}
        statistic: Maximum
        threshold: 900
        treat_missing_data: notBreaching

- name: Delete every alarm of an environment
  streamstack.aws.cloudwatch_metric_alarms:
    name_prefix: stream-staging-
    state: absent
"""

RETURN = r"""
alarms:
  description:
    - The managed alarms after the task, in the order given (what C(DescribeAlarms) returns,
      snake_cased). Deleted alarms with O(state=absent).
  returned: always
  type: list
  elements: dict
  contains:
    alarm_name:
      description: Alarm name.
      type: str
      sample: stream-production-web-cpu-high
    alarm_arn:
      description: Alarm ARN (not known in check mode before the alarm exists).
      type: str
    metric_name:
      description: Metric name.
      type: str
      sample: CPUUtilization
    threshold:
      description: Threshold.
      type: float
      sample: 80.0
created:
  description: Names of the alarms created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the alarms updated (or that would be).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the alarms deleted (or that would be).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    AWSErrorHandler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import (
    exit_absent,
    exit_present,
    require_unique,
)

ALARM_SPEC = dict(
    name=dict(type="str", required=True),
    description=dict(type="str", default=""),
    namespace=dict(type="str"),
    metric_name=dict(type="str", aliases=["metric"]),
    dimensions=dict(type="dict", default={}),
    statistic=dict(
        type="str",
        choices=["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
        default="Average",
    ),
    comparison=dict(
        type="str",
        choices=[
            "GreaterThanOrEqualToThreshold",
            "GreaterThanThreshold",
            "LessThanThreshold",
            "LessThanOrEqualToThreshold",
        ],
        default="GreaterThanThreshold",
    ),
    threshold=dict(type="float"),
    period=dict(type="int", default=300),
    evaluation_periods=dict(type="int", default=2),
    datapoints_to_alarm=dict(type="int"),
    unit=dict(type="str"),
    treat_missing_data=dict(
        type="str", choices=["breaching", "notBreaching", "ignore", "missing"], default="missing"
    ),
    actions_enabled=dict(type="bool", default=True),
    alarm_actions=dict(type="list", elements="str", default=[]),
    ok_actions=dict(type="list", elements="str", default=[]),
    insufficient_data_actions=dict(type="list", elements="str", default=[]),
)

# PutMetricAlarm parameters this module owns; every other field of an alarm is left as it is.
OWNED = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ComparisonOperator",
    "Threshold",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Unit",
    "TreatMissingData",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
)


def wanted(alarm):
    """PutMetricAlarm parameters of one alarm from its options."""
    params = {
        "AlarmName": alarm["name"],
        "AlarmDescription": alarm["description"],
        "Namespace": alarm["namespace"],
        "MetricName": alarm["metric_name"],
        "Dimensions": [
            {"Name": key, "Value": str(value)} for key, value in alarm["dimensions"].items()
        ],
        "Statistic": alarm["statistic"],
        "ComparisonOperator": alarm["comparison"],
        "Threshold": float(alarm["threshold"]),
        "Period": alarm["period"],
        "EvaluationPeriods": alarm["evaluation_periods"],
        "TreatMissingData": alarm["treat_missing_data"],
        "ActionsEnabled": alarm["actions_enabled"],
        "AlarmActions": alarm["alarm_actions"],
        "OKActions": alarm["ok_actions"],
        "InsufficientDataActions": alarm["insufficient_data_actions"],
    }
    for option, key in (("datapoints_to_alarm", "DatapointsToAlarm"), ("unit", "Unit")):
        if alarm[option] is not None:
            params[key] = alarm[option]
    return params


def comparable(params):
    """The owned settings in an order-independent form, for comparison and diff."""
    out = {}
    for key in OWNED:
        value = params.get(key)
        if key == "Dimensions":
            value = {d["Name"]: d["Value"] for d in value or []}
        elif key.endswith("Actions"):
            value = sorted(value or [])
        elif key == "Threshold" and value is not None:
            value = float(value)
        elif key == "AlarmDescription":
            value = value or ""
        elif key == "TreatMissingData":
            value = value or "missing"
        elif key == "ActionsEnabled":
            value = True if value is None else value
        out[key] = value
    return out


@AWSErrorHandler.common_error_handler("describe the alarms")
def describe(client, names=None, prefix=None):
    """Metric alarms by name (100 a request) or by name prefix, keyed by name."""
    found = {}
    paginator = client.get_paginator("describe_alarms")
    requests = []
    if names:
        requests += [{"AlarmNames": names[i : i + 100]} for i in range(0, len(names), 100)]
    if prefix:
        requests.append({"AlarmNamePrefix": prefix})
    for request in requests:
        for page in paginator.paginate(AlarmTypes=["MetricAlarm"], **request).build_full_result()[
            "MetricAlarms"
        ]:
            found[page["AlarmName"]] = page
    return found


@AWSErrorHandler.common_error_handler("put alarm {name}")
def put_alarm(module, client, name, params, current):
    """PutMetricAlarm unless the alarm is as wanted; returns whether it changes."""
    if current is not None and comparable(current) == comparable(params):
        return False
    if not module.check_mode:
        client.put_metric_alarm(aws_retry=True, **params)
    return True


@AWSErrorHandler.common_error_handler("delete the alarms")
def delete_alarms(client, names):
    client.delete_alarms(aws_retry=True, AlarmNames=names)


def ensure_present(module, client):
    alarms = module.params["alarms"]
    for alarm in alarms:
        missing = [k for k in ("namespace", "metric_name", "threshold") if alarm[k] is None]
        if missing:
            module.fail_json(msg=f"alarm {alarm['name']}: {', '.join(missing)} required")
    names = [alarm["name"] for alarm in alarms]
    require_unique(module, names, "alarm names")
    params = {alarm["name"]: wanted(alarm) for alarm in alarms}
    exit_present(
        module,
        "alarms",
        names,
        describe(client, names=names),
        apply=lambda name, current: put_alarm(module, client, name, params[name], current),
        view=comparable,
        wanted_view=lambda name, current: comparable(params[name]),
        result=camel_dict_to_snake_dict,
        planned=lambda name, wanted_view: camel_dict_to_snake_dict(params[name]),
        refresh=lambda: describe(client, names=names),
    )


def ensure_absent(module, client):
    names = [alarm["name"] for alarm in module.params["alarms"]]
    live = describe(client, names=names, prefix=module.params["name_prefix"])
    deleted = sorted(live)
    exit_absent(
        module,
        "alarms",
        deleted,
        lambda batch: delete_alarms(client, batch),
        batch=100,
        before={name: comparable(live[name]) for name in deleted},
        items=[camel_dict_to_snake_dict(live[name]) for name in deleted],
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            alarms=dict(type="list", elements="dict", default=[], options=ALARM_SPEC),
            name_prefix=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    if module.params["state"] == "present" and module.params["name_prefix"]:
        module.fail_json(msg="name_prefix selects alarms to delete; it needs state=absent")
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if module.params["state"] == "present":
            ensure_present(module, client)
        ensure_absent(module, client)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()

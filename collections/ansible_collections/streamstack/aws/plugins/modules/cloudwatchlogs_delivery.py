#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatchlogs_delivery
version_added: 0.2.0
short_description: Manage a CloudWatch Logs delivery (vended logs) with its source and destination
description:
  - Manages what an AWS service's vended logs need to reach a destination (the CloudWatch Logs
    "V2" log delivery) - a delivery source (C(PutDeliverySource), the resource that sends the
    logs, for example a CloudFront distribution's C(ACCESS_LOGS)), a delivery destination
    (C(PutDeliveryDestination), an S3 bucket, a log group or a Firehose stream) and the
    delivery that pairs them (C(CreateDelivery)), with its record fields and S3 layout
    (C(UpdateDeliveryConfiguration)) and the tags of all three.
  - Idempotent - reads the source and destination by name (C(GetDeliverySource),
    C(GetDeliveryDestination)), their deliveries (C(DescribeDeliveries)) and tags
    (C(ListTagsForResource)), and changes only what differs.
  - A source's resource or log type, and a destination's resource or output format, cannot be
    changed in place; such a source or destination is replaced (its deliveries deleted first,
    then created again). A source delivers to one destination of each type, so another
    delivery of the source to the same type of destination is deleted.
  - V(absent) deletes the deliveries of the source and of the destination, then both.
author:
  - StreamStack contributors (@streamstack)
options:
  source:
    description: The delivery source.
    type: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the delivery source, unique in the account and region (1-60 letters,
            digits, C(_) or C(-)).
        type: str
        required: true
      resource_arn:
        description:
          - ARN of the resource that sends the logs, for example
            C(arn:aws:cloudfront::111122223333:distribution/EDFDVBD6EXAMPLE).
          - Required when O(state=present).
        type: str
      log_type:
        description:
          - The type of logs it sends (C(ACCESS_LOGS) for CloudFront).
          - Required when O(state=present).
        type: str
  destination:
    description: The delivery destination.
    type: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the delivery destination, unique in the account and region (1-60 letters,
            digits, C(_) or C(-)).
        type: str
        required: true
      resource_arn:
        description:
          - ARN of the S3 bucket (C(arn:aws:s3:::BUCKET)), log group or Firehose stream that
            receives the logs.
          - Required when O(state=present).
        type: str
      output_format:
        description:
          - Format of the delivered logs. V(null) lets the service pick its default on create
            and leaves an existing destination's format alone.
        type: str
        choices: [json, plain, w3c, raw, parquet]
  record_fields:
    description:
      - The record fields to deliver, in order. V(null) keeps the source's default fields (or
        the delivery's current ones).
    type: list
    elements: str
  field_delimiter:
    description: The field delimiter of the plain, w3c and raw formats. V(null) leaves it alone.
    type: str
  s3_delivery_configuration:
    description:
      - The S3 layout, for an S3 destination only. Options not given are left alone.
      - The bucket's policy must let C(delivery.logs.amazonaws.com) write where it points.
    type: dict
    suboptions:
      suffix_path:
        description:
          - The object key pattern, for example
            C(AWSLogs/{account-id}/CloudFront/{DistributionId}/{yyyy}/{MM}/{dd}/{HH}).
        type: str
      enable_hive_compatible_path:
        description:
          - Whether the partitions of O(s3_delivery_configuration.suffix_path) are written as
            Hive's C(key=value).
        type: bool
  tags:
    description:
      - Tags of the source, the destination and the delivery. V(null) leaves their tags alone.
    type: dict
    aliases: [resource_tags]
  state:
    description:
      - V(present) creates or updates the delivery, V(absent) deletes it with its source and
        destination.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff) (source, destination and delivery settings with their tags).
  - CloudFront's delivery sources must be managed in C(us-east-1) (set O(region)), whatever the
    region of the destination; the module refuses another region for a CloudFront source
    before any call. Creating the source for a distribution needs
    C(cloudfront:AllowVendedLogDeliveryForResource) besides C(logs:PutDeliverySource).
  - For an S3 destination the bucket's policy must allow C(delivery.logs.amazonaws.com) to
    C(s3:PutObject) (with C(aws:SourceAccount) and C(aws:SourceArn) conditions naming the
    delivery source); AWS adds such a statement itself when the caller may change the bucket
    policy and it is missing. A bucket encrypted with a customer managed KMS key also needs the
    key policy to allow the service.
extends_documentation_fragment:
  - amazon.aws.tags
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: CloudFront access logs (standard logging v2) into a bucket
  streamstack.aws.cloudwatchlogs_delivery:
    region: us-east-1
    source:
      name: stream-production-cloudfront-access
      resource_arn: "{{ distribution.distribution.arn }}"
      log_type: ACCESS_LOGS
    destination:
      name: stream-production-cloudfront-access-s3
      resource_arn: arn:aws:s3:::stream-production-logs-111122223333
      output_format: w3c
    tags:
      Project: stream
      Environment: production

- name: Stop delivering them
  streamstack.aws.cloudwatchlogs_delivery:
    region: us-east-1
    source: {name: stream-production-cloudfront-access}
    destination: {name: stream-production-cloudfront-access-s3}
    state: absent
"""

RETURN = r"""
delivery_source:
  description: The delivery source (empty when absent; in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name: {description: Its name., type: str}
    arn: {description: Its ARN (not known in check mode before it exists)., type: str}
    resource_arns: {description: The resource that sends the logs., type: list, elements: str}
    service: {description: The service of that resource., type: str, sample: cloudfront}
    log_type: {description: The type of logs., type: str, sample: ACCESS_LOGS}
    tags: {description: Its tags., type: dict}
delivery_destination:
  description: The delivery destination (empty when absent; in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name: {description: Its name., type: str}
    arn: {description: Its ARN (not known in check mode before it exists)., type: str}
    delivery_destination_type: {description: C(S3), C(CWL) or C(FH)., type: str}
    output_format: {description: The format of the delivered logs., type: str}
    delivery_destination_configuration:
      description: The receiving resource, as C(destination_resource_arn).
      type: dict
    tags: {description: Its tags., type: dict}
delivery:
  description: The delivery (empty when absent; in check mode, as it would be).
  returned: always
  type: dict
  contains:
    id: {description: Its ID (not known in check mode before it exists)., type: str}
    arn: {description: Its ARN., type: str}
    delivery_source_name: {description: The source's name., type: str}
    delivery_destination_arn: {description: The destination's ARN., type: str}
    record_fields: {description: The delivered fields, in order., type: list, elements: str}
    field_delimiter: {description: The field delimiter., type: str}
    s3_delivery_configuration: {description: The S3 layout., type: dict}
    tags: {description: Its tags., type: dict}
actions:
  description: What was done (or would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create delivery source", "create delivery destination", "create delivery"]
"""

import re

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)

LOGS_ERRORS = error_handler("ResourceNotFoundException")

NAME = re.compile(r"^[\w-]{1,60}$")
# The delivery destination type AWS derives from the receiving resource's ARN.
DESTINATION_TYPES = {"s3": "S3", "logs": "CWL", "firehose": "FH"}
S3_KEYS = {"suffix_path": "suffixPath", "enable_hive_compatible_path": "enableHiveCompatiblePath"}


class Deliveries:
    """The delivery source, destination and deliveries as CloudWatch Logs reports them."""

    def __init__(self, module):
        self.module = module
        self.client = module.client("logs", retry_decorator=AWSRetry.jittered_backoff())
        self.actions = []

    @LOGS_ERRORS.list_error_handler("read delivery {kind} {name}")
    def get(self, kind, name):
        """The named source or destination with its tags, or None."""
        method, key = {
            "source": ("get_delivery_source", "deliverySource"),
            "destination": ("get_delivery_destination", "deliveryDestination"),
        }[kind]
        found = getattr(self.client, method)(aws_retry=True, name=name)[key]
        return dict(found, tags=self.tags(found["arn"]))

    @LOGS_ERRORS.common_error_handler("describe the deliveries")
    def deliveries(self):
        """Every delivery of the account and region, with its tags read lazily."""
        pages = self.client.get_paginator("describe_deliveries").paginate()
        return pages.build_full_result().get("deliveries", [])

    @LOGS_ERRORS.common_error_handler("read the tags of {arn}")
    def tags(self, arn):
        return self.client.list_tags_for_resource(aws_retry=True, resourceArn=arn)["tags"]

    @LOGS_ERRORS.common_error_handler("{action}")
    def call(self, action, method, **request):
        """Do (or in check mode only note) one change; its response."""
        self.actions.append(action)
        if self.module.check_mode:
            return {}
        return getattr(self.client, method)(aws_retry=True, **request)

    def retag(self, kind, current):
        """Brings the resource's tags in line (each call noted, as every change is); returns
        its tags after."""
        tags, purge, arn = (
            self.module.params["tags"],
            self.module.params["purge_tags"],
            current["arn"],
        )
        sync_tags(
            self.module,
            current.get("tags", {}),
            tags,
            purge,
            tag=lambda add: self.call(f"tag {kind}", "tag_resource", resourceArn=arn, tags=add),
            untag=lambda keys: self.call(
                f"untag {kind}", "untag_resource", resourceArn=arn, tagKeys=keys
            ),
            check_mode=False,
        )
        return planned_tags(current.get("tags", {}), tags, purge)


def destination_type(resource_arn):
    return DESTINATION_TYPES.get(resource_arn.split(":")[2] if resource_arn.count(":") >= 5 else "")


def s3_configuration(params):
    given = params["s3_delivery_configuration"] or {}
    return {S3_KEYS[key]: value for key, value in given.items() if value is not None}


def view(source, destination, delivery):
    """What --diff shows: the settings the module manages, with the tags."""
    out = {}
    if source:
        out["source"] = {
            "resource_arns": source.get("resourceArns", []),
            "log_type": source.get("logType"),
            "tags": source.get("tags", {}),
        }
    if destination:
        config = destination.get("deliveryDestinationConfiguration", {})
        out["destination"] = {
            "resource_arn": config.get("destinationResourceArn"),
            "output_format": destination.get("outputFormat"),
            "tags": destination.get("tags", {}),
        }
    if delivery:
        out["delivery"] = {
            "record_fields": delivery.get("recordFields", []),
            "field_delimiter": delivery.get("fieldDelimiter"),
            "s3_delivery_configuration": delivery.get("s3DeliveryConfiguration", {}),
            "tags": delivery.get("tags", {}),
        }
    return out


def result(resource):
    return camel_dict_to_snake_dict(resource or {}, ignore_list=["tags"])


def validate(module):
    """Bad input fails here, before any call, naming the option."""
    params, present = module.params, module.params["state"] == "present"
    for kind in ("source", "destination"):
        name = params[kind]["name"]
        if not NAME.match(name):
            module.fail_json(msg=f"{kind}.name must be 1-60 letters, digits, _ or -, not {name!r}")
        if present and not params[kind]["resource_arn"]:
            module.fail_json(msg=f"state=present needs {kind}.resource_arn")
    if not present:
        return
    if not params["source"]["log_type"]:
        module.fail_json(msg="state=present needs source.log_type")
    source_arn = params["source"]["resource_arn"]
    cloudfront = source_arn.startswith("arn:") and source_arn.split(":")[2:3] == ["cloudfront"]
    if cloudfront and module.region != "us-east-1":
        module.fail_json(
            msg="A CloudFront distribution's delivery source is managed in us-east-1 only"
            f" (region is {module.region}): set region: us-east-1"
        )
    kind = destination_type(params["destination"]["resource_arn"])
    if kind is None:
        module.fail_json(
            msg="destination.resource_arn must be the ARN of an S3 bucket, a log group or a"
            f" Firehose stream, not {params['destination']['resource_arn']!r}"
        )
    if params["s3_delivery_configuration"] and kind != "S3":
        module.fail_json(msg="s3_delivery_configuration is for an S3 destination only")


def of_source(deliveries, source):
    return [d for d in deliveries if source and d.get("deliverySourceName") == source["name"]]


def of_destination(deliveries, destination):
    return [
        d
        for d in deliveries
        if destination and d.get("deliveryDestinationArn") == destination["arn"]
    ]


def ensure_present(module, api):
    params = module.params
    want_source, want_destination = params["source"], params["destination"]
    source = api.get("source", want_source["name"])
    destination = api.get("destination", want_destination["name"])
    deliveries = api.deliveries()
    ours = next(
        (d for d in of_source(deliveries, source) if d in of_destination(deliveries, destination)),
        None,
    )
    if ours:
        ours = dict(ours, tags=api.tags(ours["arn"]))
    before = view(source, destination, ours)

    # What cannot change in place is replaced: its deliveries go first.
    replace_source = source is not None and (
        source.get("resourceArns") != [want_source["resource_arn"]]
        or source.get("logType") != want_source["log_type"]
    )
    config = (destination or {}).get("deliveryDestinationConfiguration", {})
    replace_destination = destination is not None and (
        config.get("destinationResourceArn") != want_destination["resource_arn"]
        or (
            want_destination["output_format"] is not None
            and destination.get("outputFormat") != want_destination["output_format"]
        )
    )
    wanted_type = destination_type(want_destination["resource_arn"])
    doomed = {}
    for delivery in of_source(deliveries, source):
        # A source delivers to one destination of each type: another one of ours is in the way.
        in_the_way = delivery.get("deliveryDestinationType") == wanted_type
        if replace_source or (in_the_way and delivery["id"] != (ours or {}).get("id")):
            doomed[delivery["id"]] = delivery
    for delivery in of_destination(deliveries, destination) if replace_destination else []:
        doomed[delivery["id"]] = delivery
    for delivery_id in doomed:
        api.call(f"delete delivery {delivery_id}", "delete_delivery", id=delivery_id)
    if ours and ours["id"] in doomed:
        ours = None
    if replace_source:
        api.call("delete delivery source (replaced)", "delete_delivery_source", name=source["name"])
        source = None
    if replace_destination:
        api.call(
            "delete delivery destination (replaced)",
            "delete_delivery_destination",
            name=destination["name"],
        )
        destination = None

    tags = params["tags"] or {}
    if source is None:
        request = {
            "name": want_source["name"],
            "resourceArn": want_source["resource_arn"],
            "logType": want_source["log_type"],
        }
        created = api.call(
            "create delivery source", "put_delivery_source", **request, **tagged(tags)
        )
        source = created.get("deliverySource") or {
            "name": request["name"],
            "resourceArns": [request["resourceArn"]],
            "service": request["resourceArn"].split(":")[2],
            "logType": request["logType"],
        }
        source["tags"] = dict(tags)
    else:
        source["tags"] = api.retag("delivery source", source)

    if destination is None:
        request = {
            "name": want_destination["name"],
            "deliveryDestinationConfiguration": {
                "destinationResourceArn": want_destination["resource_arn"]
            },
        }
        if want_destination["output_format"]:
            request["outputFormat"] = want_destination["output_format"]
        created = api.call(
            "create delivery destination", "put_delivery_destination", **request, **tagged(tags)
        )
        destination = created.get("deliveryDestination") or dict(
            request, deliveryDestinationType=wanted_type
        )
        destination["tags"] = dict(tags)
    else:
        destination["tags"] = api.retag("delivery destination", destination)

    settings = {}
    if params["record_fields"] is not None:
        settings["recordFields"] = params["record_fields"]
    if params["field_delimiter"] is not None:
        settings["fieldDelimiter"] = params["field_delimiter"]
    if ours is None:
        if params["s3_delivery_configuration"]:
            settings["s3DeliveryConfiguration"] = s3_configuration(params)
        created = api.call(
            "create delivery",
            "create_delivery",
            deliverySourceName=source["name"],
            deliveryDestinationArn=destination.get("arn"),
            **settings,
            **tagged(tags),
        )
        ours = created.get("delivery") or dict(
            settings,
            deliverySourceName=source["name"],
            deliveryDestinationArn=destination.get("arn"),
            deliveryDestinationType=wanted_type,
        )
        ours["tags"] = dict(tags)
    else:
        current_s3 = ours.get("s3DeliveryConfiguration", {})
        wanted_s3 = dict(current_s3, **s3_configuration(params))
        if wanted_s3 != current_s3:
            settings["s3DeliveryConfiguration"] = wanted_s3
        changes = {key: value for key, value in settings.items() if ours.get(key) != value}
        if changes:
            api.call(
                "update delivery configuration",
                "update_delivery_configuration",
                id=ours["id"],
                **changes,
            )
            ours.update(changes)
        ours["tags"] = api.retag("delivery", ours)

    if api.actions and not module.check_mode:
        # What AWS holds now (defaults it filled in: record fields, S3 layout, format).
        source = api.get("source", want_source["name"])
        destination = api.get("destination", want_destination["name"])
        deliveries = api.deliveries()
        ours = next(
            (
                dict(d, tags=api.tags(d["arn"]))
                for d in of_source(deliveries, source)
                if d in of_destination(deliveries, destination)
            ),
            None,
        )
    exit_with(module, api, before, source, destination, ours)


def tagged(tags):
    return {"tags": tags} if tags else {}


def ensure_absent(module, api):
    params = module.params
    source = api.get("source", params["source"]["name"])
    destination = api.get("destination", params["destination"]["name"])
    before = view(source, destination, None)
    for delivery in api.deliveries():
        if (source and delivery.get("deliverySourceName") == source["name"]) or (
            destination and delivery.get("deliveryDestinationArn") == destination["arn"]
        ):
            before.setdefault("deliveries", []).append(delivery["id"])
            api.call(f"delete delivery {delivery['id']}", "delete_delivery", id=delivery["id"])
    if source:
        api.call("delete delivery source", "delete_delivery_source", name=source["name"])
    if destination:
        api.call(
            "delete delivery destination", "delete_delivery_destination", name=destination["name"]
        )
    exit_with(module, api, before, None, None, None)


def exit_with(module, api, before, source, destination, delivery):
    after = view(source, destination, delivery)
    module.exit_json(
        changed=bool(api.actions),
        actions=api.actions,
        delivery_source=result(source),
        delivery_destination=result(destination),
        delivery=result(delivery),
        **diff_result(module, before, after),
    )


def main():
    resource = dict(
        name=dict(type="str", required=True),
        resource_arn=dict(type="str"),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            source=dict(
                type="dict", required=True, options=dict(resource, log_type=dict(type="str"))
            ),
            destination=dict(
                type="dict",
                required=True,
                options=dict(
                    resource,
                    output_format=dict(
                        type="str", choices=["json", "plain", "w3c", "raw", "parquet"]
                    ),
                ),
            ),
            record_fields=dict(type="list", elements="str"),
            field_delimiter=dict(type="str"),
            s3_delivery_configuration=dict(
                type="dict",
                options=dict(
                    suffix_path=dict(type="str"),
                    enable_hive_compatible_path=dict(type="bool"),
                ),
            ),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    validate(module)
    api = Deliveries(module)
    try:
        if module.params["state"] == "present":
            ensure_present(module, api)
        ensure_absent(module, api)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sqs_queues
version_added: 0.2.0
short_description: Manage a set of SQS queues (a queue and its dead-letter queue) in one task
description:
  - Creates standard SQS queues, sets their attributes, redrive policy and tags, or deletes them
    - several queues in one module call, where M(community.aws.sqs_queue) needs one call (one
    Python start-up, one boto3 import) per queue.
  - Idempotent - reads the queues (C(GetQueueUrl), C(GetQueueAttributes), C(ListQueueTags))
    and changes only what differs. An attribute left out (V(null)) is neither compared nor
    changed.
  - Queues are handled in the order given, so a dead-letter queue listed first can be named
    in the redrive policy of a queue listed after it.
author:
  - StreamStack contributors (@streamstack)
options:
  queues:
    description: The queues.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Queue name (standard queues; FIFO queues are not supported).
        type: str
        required: true
      visibility_timeout:
        description: Seconds a received message stays invisible to other consumers.
        type: int
      message_retention_period:
        description: Seconds a message is kept.
        type: int
      receive_message_wait_time_seconds:
        description: Long-polling wait of C(ReceiveMessage), in seconds.
        type: int
      delay_seconds:
        description: Delivery delay of new messages, in seconds.
        type: int
      maximum_message_size:
        description: Largest message in bytes.
        type: int
      kms_master_key_id:
        description:
          - KMS key for server-side encryption (an id, ARN or alias such as V(alias/aws/sqs)).
        type: str
      kms_data_key_reuse_period_seconds:
        description: Seconds a data key is reused before KMS is called again.
        type: int
      redrive_policy:
        description: Where messages go after too many receives.
        type: dict
        suboptions:
          max_receive_count:
            description: Receives before a message moves to the dead-letter queue.
            type: int
            required: true
          dead_letter_queue:
            description: Name of the dead-letter queue (same account and region) or its ARN.
            type: str
            required: true
      tags:
        description: Tags of the queue. V(null) leaves the tags alone.
        type: dict
        aliases: [resource_tags]
  purge_tags:
    description: Whether tags not in O(queues[].tags) are removed.
    type: bool
    default: true
  state:
    description:
      - V(present) creates or updates the queues, V(absent) deletes them (with their messages).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff) (attributes and tags of each queue, keyed by name).
  - SQS refuses to create a queue under the name of one deleted less than 60 seconds before
    (C(QueueDeletedRecently)), e.g. right after a teardown; the module retries C(CreateQueue)
    for up to 120 seconds meanwhile.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Transcoding queue and its dead-letter queue
  streamstack.aws.sqs_queues:
    queues:
      - name: stream-production-transcode-dlq
        message_retention_period: 1209600
        kms_master_key_id: alias/aws/sqs
        tags: {Project: stream}
      - name: stream-production-transcode
        visibility_timeout: 900
        receive_message_wait_time_seconds: 20
        kms_master_key_id: alias/aws/sqs
        redrive_policy:
          max_receive_count: 3
          dead_letter_queue: stream-production-transcode-dlq
        tags: {Project: stream}

- name: Delete them (the queue that uses the dead-letter queue first)
  streamstack.aws.sqs_queues:
    queues: [{name: stream-production-transcode}, {name: stream-production-transcode-dlq}]
    state: absent
"""

RETURN = r"""
queues:
  description: The queues after the task, in the order given (absent ones are left out).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name.
      type: str
      sample: stream-production-transcode
    queue_url:
      description: URL (not known in check mode before the queue exists).
      type: str
    queue_arn:
      description: ARN (not known in check mode before the queue exists).
      type: str
    attributes:
      description:
        - The managed attributes as SQS names them (values as strings, the redrive policy
          as a dict).
      type: dict
      sample: {VisibilityTimeout: "900"}
    tags:
      description: Tags.
      type: dict
created:
  description: Names of the queues created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the queues whose attributes or tags changed (or would).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the queues deleted (or that would be).
  returned: always
  type: list
  elements: str
"""

import json
import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import (
    exit_absent,
    exit_set,
    require_unique,
)
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)

ATTRIBUTES = {
    "visibility_timeout": "VisibilityTimeout",
    "message_retention_period": "MessageRetentionPeriod",
    "receive_message_wait_time_seconds": "ReceiveMessageWaitTimeSeconds",
    "delay_seconds": "DelaySeconds",
    "maximum_message_size": "MaximumMessageSize",
    "kms_master_key_id": "KmsMasterKeyId",
    "kms_data_key_reuse_period_seconds": "KmsDataKeyReusePeriodSeconds",
}
NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"
SQS_ERRORS = error_handler(NON_EXISTENT, "QueueDoesNotExist")
# CreateQueue within 60 s of deleting a queue of that name (the code botocore reports from SQS's
# query-compatible error header, and the JSON protocol's own).
DELETED_RECENTLY = ["AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"]
NAME_REUSE_TIMEOUT = 120
NAME_REUSE_DELAY = 3


def create_queue(client, request):
    """CreateQueue, retried while SQS still refuses the name of a queue deleted moments ago."""
    deadline = time.monotonic() + NAME_REUSE_TIMEOUT
    while True:
        try:
            return client.create_queue(aws_retry=True, **request)["QueueUrl"]
        except is_boto3_error_code(DELETED_RECENTLY):
            if time.monotonic() >= deadline:
                raise
            time.sleep(NAME_REUSE_DELAY)


@SQS_ERRORS.list_error_handler("describe queue {name}")
def describe(client, name):
    """(url, attributes, tags) of the queue, or None when it does not exist."""
    url = client.get_queue_url(aws_retry=True, QueueName=name)["QueueUrl"]
    attributes = client.get_queue_attributes(aws_retry=True, QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    tags = client.list_queue_tags(aws_retry=True, QueueUrl=url).get("Tags", {})
    return url, attributes, tags


@SQS_ERRORS.deletion_error_handler("delete queue {name}")
def delete_queue(client, name, url):
    client.delete_queue(aws_retry=True, QueueUrl=url)


def wanted_attributes(spec, arns):
    """The given attributes as SQS names them, values as strings (RedrivePolicy as a dict)."""
    wanted = {api: str(spec[key]) for key, api in ATTRIBUTES.items() if spec[key] is not None}
    redrive = spec["redrive_policy"]
    if redrive is not None:
        target = redrive["dead_letter_queue"]
        wanted["RedrivePolicy"] = {
            "deadLetterTargetArn": target if target.startswith("arn:") else arns.get(target),
            "maxReceiveCount": int(redrive["max_receive_count"]),
        }
    return wanted


def live_view(attributes, wanted):
    """The live values of the wanted attributes, in the same form."""
    live = {}
    for api in wanted:
        value = attributes.get(api)
        if api == "RedrivePolicy" and value:
            policy = json.loads(value)
            value = {
                "deadLetterTargetArn": policy.get("deadLetterTargetArn"),
                "maxReceiveCount": int(policy.get("maxReceiveCount", 0)),
            }
        live[api] = value
    return live


def to_request(attributes):
    return {
        api: json.dumps(value) if api == "RedrivePolicy" else value
        for api, value in attributes.items()
    }


def main():
    queue_options = {key: dict(type="int") for key in ATTRIBUTES}
    queue_options.update(
        name=dict(type="str", required=True),
        kms_master_key_id=dict(type="str", no_log=False),
        redrive_policy=dict(
            type="dict",
            options=dict(
                max_receive_count=dict(type="int", required=True),
                dead_letter_queue=dict(type="str", required=True),
            ),
        ),
        tags=dict(type="dict", aliases=["resource_tags"]),
    )
    module = AnsibleAWSModule(
        argument_spec=dict(
            queues=dict(type="list", elements="dict", required=True, options=queue_options),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    specs = module.params["queues"]
    names = [spec["name"] for spec in specs]
    require_unique(module, names, "queues")
    fifo = [name for name in names if name.endswith(".fifo")]
    if fifo:
        module.fail_json(msg=f"FIFO queues are not supported: {', '.join(fifo)}")
    client = module.client("sqs", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if module.params["state"] == "absent":
            urls = {name: describe(client, name) for name in names}
            deleted = [name for name in names if urls[name] is not None]
            exit_absent(
                module, "queues", deleted, lambda name: delete_queue(client, name, urls[name][0])
            )
        ensure_present(module, client, specs)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


def ensure_present(module, client, specs):
    check = module.check_mode
    purge = module.params["purge_tags"]
    created, updated, result = [], [], []
    before, after = {}, {}
    arns = {}  # name -> ARN of the queues handled so far, for redrive policies
    for spec in specs:
        name = spec["name"]
        found = describe(client, name)
        wanted = wanted_attributes(spec, arns)
        redrive = wanted.get("RedrivePolicy")
        if redrive is not None and redrive["deadLetterTargetArn"] is None:
            target = spec["redrive_policy"]["dead_letter_queue"]
            target_found = describe(client, target)
            if target_found is None and not (check and target in created):
                module.fail_json(
                    msg=f"queue {name}: dead-letter queue {target} does not exist; list it"
                    " before this queue or give its ARN"
                )
            if target_found is not None:
                redrive["deadLetterTargetArn"] = target_found[1]["QueueArn"]
        wanted_tags = spec["tags"]
        url, arn, live_tags = apply_queue(
            module, client, name, spec, found, wanted, before, created, updated
        )
        tags = planned_tags(live_tags, wanted_tags, purge)

        after[name] = {"attributes": wanted, "tags": tags}
        if arn:
            arns[name] = arn
        result.append(
            {"name": name, "queue_url": url, "queue_arn": arn, "attributes": wanted, "tags": tags}
        )

    exit_set(
        module,
        "queues",
        result,
        created=created,
        updated=updated,
        before=before,
        after=after,
    )


@SQS_ERRORS.common_error_handler("create or update queue {name}")
def apply_queue(module, client, name, spec, found, wanted, before, created, updated):
    """Creates or updates one queue; returns its (url, ARN, tags before)."""
    check, purge, wanted_tags = module.check_mode, module.params["purge_tags"], spec["tags"]
    if found is None:
        created.append(name)
        url = arn = None
        live_tags = {}
        if not check:
            request = {"QueueName": name, "Attributes": to_request(wanted)}
            if wanted_tags:
                request["tags"] = wanted_tags
            url = create_queue(client, request)
            arn = client.get_queue_attributes(
                aws_retry=True, QueueUrl=url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            live_tags = wanted_tags or {}
        before[name] = {}
    else:
        url, attributes, live_tags = found
        arn = attributes["QueueArn"]
        live = live_view(attributes, wanted)
        before[name] = {"attributes": live, "tags": live_tags}
        changes = {api: value for api, value in wanted.items() if live[api] != value}
        if changes and not check:
            client.set_queue_attributes(
                aws_retry=True, QueueUrl=url, Attributes=to_request(changes)
            )
        retagged = sync_tags(
            module,
            live_tags,
            wanted_tags,
            purge,
            tag=lambda add: client.tag_queue(aws_retry=True, QueueUrl=url, Tags=add),
            untag=lambda keys: client.untag_queue(aws_retry=True, QueueUrl=url, TagKeys=keys),
        )
        if changes or retagged:
            updated.append(name)
    return url, arn, live_tags


if __name__ == "__main__":
    main()

"""The app's own AWS resources as provisioning makes them (the media bucket, the sessions table
with its TTL, the transcoding queue with its dead-letter queue), for running the app without
the playbooks: the app's tests and its benchmark (bench/api.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AppResources:
    bucket: str
    table: str
    queue_url: str
    dlq_url: str

    def environment(self) -> dict[str, str]:
        """The app's settings naming them, as the host roles write them."""
        return {
            "STREAMAPP_MEDIA_BUCKET": self.bucket,
            "STREAMAPP_SESSIONS_TABLE": self.table,
            "STREAMAPP_JOBS_QUEUE_URL": self.queue_url,
            "STREAMAPP_JOBS_DLQ_URL": self.dlq_url,
        }


def create_app_resources(
    client: Callable[[str], Any],
    name: Callable[[str], str],
    region: str,
    *,
    max_receive_count: int = 3,
    visibility_timeout: int | None = None,
) -> AppResources:
    """Creates them with ``client(service)``; ``name(kind)`` names each (media, sessions,
    transcode, transcode-dlq)."""
    bucket = name("media")
    client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
    )
    ddb = client("dynamodb")
    table = name("sessions")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    sqs = client("sqs")
    dlq_url = sqs.create_queue(QueueName=name("transcode-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
        )
    }
    if visibility_timeout is not None:
        attributes["VisibilityTimeout"] = str(visibility_timeout)
    queue_url = sqs.create_queue(QueueName=name("transcode"), Attributes=attributes)["QueueUrl"]
    return AppResources(bucket, table, queue_url, dlq_url)

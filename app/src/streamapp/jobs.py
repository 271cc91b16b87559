"""Transcoding jobs on SQS: one message per media item."""

from __future__ import annotations

import json
from dataclasses import dataclass

from streamapp.aws import client
from streamapp.config import Settings


@dataclass(frozen=True)
class Job:
    item_id: str
    source_key: str
    kind: str

    def body(self) -> str:
        return json.dumps(
            {"v": 1, "item_id": self.item_id, "source_key": self.source_key, "kind": self.kind}
        )

    @classmethod
    def parse(cls, body: str) -> Job:
        data = json.loads(body)
        return cls(str(data["item_id"]), str(data["source_key"]), str(data["kind"]))


def enqueue(settings: Settings, job: Job) -> str:
    resp = client(settings, "sqs").send_message(
        QueueUrl=settings.jobs_queue_url, MessageBody=job.body()
    )
    return str(resp["MessageId"])

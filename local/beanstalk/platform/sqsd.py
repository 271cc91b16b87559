#!/usr/bin/env python3
"""STAND-IN for Elastic Beanstalk's SQS daemon (sqsd) on a worker environment's instance
(local/beanstalk/): not AWS's code, the behaviour its documentation describes ("Elastic
Beanstalk worker environments", option namespace aws:elasticbeanstalk:sqsd).

It long-polls the environment's queue (WorkerQueueURL) with the instance role's credentials
(the instance metadata service), and POSTs each message's body to
``http://localhost:80<HttpPath>`` (through the platform's nginx) with Content-Type MimeType and
the daemon's headers:

    User-Agent: aws-sqsd/3.0.4
    X-Aws-Sqsd-Msgid               the message id
    X-Aws-Sqsd-Receive-Count       how many times it was received (ApproximateReceiveCount)
    X-Aws-Sqsd-First-Received-At   first receive, ISO 8601 UTC
    X-Aws-Sqsd-Sent-At             when it was sent, ISO 8601 UTC
    X-Aws-Sqsd-Queue               the queue's name
    X-Aws-Sqsd-Sender-Id           who sent it
    X-Aws-Sqsd-Attr-<name>         each message attribute (String/Number)

A 200 deletes the message. Any other status, or an error, makes it visible again after
ErrorVisibilityTimeout; no answer within InactivityTimeout leaves it to its VisibilityTimeout.
At most HttpConnections requests run at once; a message older than RetentionPeriod is deleted
unposted. Dead-lettering is the queue's own redrive policy (SQS moves a message received more
than maxReceiveCount times; MaxRetries sets that count only on a queue Elastic Beanstalk makes).
Settings: /etc/aws-sqsd.d/default.json (written by the engine at deployment), the AWS endpoint
from AWS_ENDPOINT_URL (the stand-in's network; on AWS the Region's). Log: its journal.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3

CONFIG = Path("/etc/aws-sqsd.d/default.json")
USER_AGENT = "aws-sqsd/3.0.4"
DEFAULTS = {
    "HttpPath": "/",
    "MimeType": "application/json",
    "HttpConnections": "50",
    "ConnectTimeout": "5",
    "InactivityTimeout": "299",
    "VisibilityTimeout": "300",
    "ErrorVisibilityTimeout": "2",
    "RetentionPeriod": "345600",
}


def log(message: str) -> None:
    print(f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}", flush=True)


def iso(milliseconds: str | None) -> str:
    if not milliseconds:
        return ""
    return datetime.fromtimestamp(int(milliseconds) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Daemon:
    def __init__(self, options: dict[str, str], sqs, port: int = 80) -> None:
        self.options = {**DEFAULTS, **options}
        self.queue_url = self.options["WorkerQueueURL"]
        self.sqs = sqs
        self.port = port
        self.slots = threading.BoundedSemaphore(int(self.options["HttpConnections"]))
        self.done = threading.Event()
        self.wait_seconds = 20  # long polling, SQS's longest

    def headers(self, message: dict) -> dict[str, str]:
        attributes = message.get("Attributes", {})
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": self.options["MimeType"],
            "X-Aws-Sqsd-Msgid": message["MessageId"],
            "X-Aws-Sqsd-Receive-Count": attributes.get("ApproximateReceiveCount", "1"),
            "X-Aws-Sqsd-First-Received-At": iso(attributes.get("ApproximateFirstReceiveTimestamp")),
            "X-Aws-Sqsd-Sent-At": iso(attributes.get("SentTimestamp")),
            "X-Aws-Sqsd-Queue": self.queue_url.rstrip("/").rsplit("/", 1)[-1],
            "X-Aws-Sqsd-Sender-Id": attributes.get("SenderId", ""),
        }
        for name, value in (message.get("MessageAttributes") or {}).items():
            if value.get("DataType", "").split(".")[0] in ("String", "Number"):
                headers[f"X-Aws-Sqsd-Attr-{name}"] = value.get("StringValue", "")
        return headers

    def expired(self, message: dict) -> bool:
        sent = int(message.get("Attributes", {}).get("SentTimestamp", "0")) / 1000
        return bool(sent) and time.time() - sent > int(self.options["RetentionPeriod"])

    def deliver(self, message: dict) -> None:
        receipt = message["ReceiptHandle"]
        try:
            if self.expired(message):
                log(f"{message['MessageId']}: older than RetentionPeriod, deleted unposted")
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
                return
            status = 0
            # http.client keeps the headers' case as sqsd sends them (urllib's does not).
            connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=int(self.options["InactivityTimeout"])
            )
            try:
                connection.request(
                    "POST", self.options["HttpPath"], message["Body"].encode(),
                    self.headers(message),
                )  # fmt: skip
                response = connection.getresponse()
                response.read()
                status = response.status
            except TimeoutError:
                log(f"{message['MessageId']}: no answer within InactivityTimeout")
                return  # visible again after its VisibilityTimeout
            except (OSError, http.client.HTTPException) as exc:
                log(f"{message['MessageId']}: POST failed: {exc}")
            finally:
                connection.close()
            if status == 200:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
                log(f"{message['MessageId']}: 200, deleted")
                return
            log(f"{message['MessageId']}: answered {status}: visible again after "
                f"{self.options['ErrorVisibilityTimeout']} s")  # fmt: skip
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt,
                VisibilityTimeout=int(self.options["ErrorVisibilityTimeout"]),
            )
        except Exception as exc:  # keep the daemon up; SQS redelivers the message
            log(f"{message.get('MessageId')}: {type(exc).__name__}: {exc}")
        finally:
            self.slots.release()

    def run(self) -> None:
        log(f"polling {self.queue_url}, posting to http://localhost:{self.port}"
            f"{self.options['HttpPath']}")  # fmt: skip
        while not self.done.is_set():
            if not self.slots.acquire(timeout=1):
                continue  # every connection busy
            free = 1
            while free < 10 and self.slots.acquire(blocking=False):
                free += 1
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=free,
                    WaitTimeSeconds=self.wait_seconds,
                    VisibilityTimeout=int(self.options["VisibilityTimeout"]),
                    # Debian's boto3 (the stand-in image's) predates MessageSystemAttributeNames.
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception as exc:
                log(f"receive failed: {type(exc).__name__}: {exc}")
                messages = []
                self.done.wait(5)
            for _ in range(free - len(messages)):
                self.slots.release()
            for message in messages:
                threading.Thread(target=self.deliver, args=(message,), daemon=True).start()


def main() -> int:
    options = json.loads(CONFIG.read_text())
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    sqs = boto3.client(
        "sqs", region_name=region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None
    )
    daemon = Daemon(options, sqs)
    signal.signal(signal.SIGTERM, lambda *_: daemon.done.set())
    daemon.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The worker daemon of the Elastic Beanstalk stand-in (local/beanstalk/platform/sqsd.py), in
process against the emulator's SQS and a local HTTP endpoint: it POSTs each message's body with
sqsd's headers, deletes the message on a 200, makes it visible again after
ErrorVisibilityTimeout on any other answer (received again, Receive-Count 2), and the queue's
redrive policy dead-letters it after maxReceiveCount receives. No podman."""

from __future__ import annotations

import http.server
import importlib.util
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.beanstalk


def _sqsd() -> Any:
    spec = importlib.util.spec_from_file_location(
        "standin_sqsd", ROOT / "local" / "beanstalk" / "platform" / "sqsd.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class App:
    """The app's side: records each POST and answers the next status of ``answers``."""

    def __init__(self, answers: list[int]) -> None:
        self.answers, self.posts = answers, []
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                app.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(app.answers.pop(0) if app.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def queues(aws) -> Iterator[tuple[str, str]]:
    sqs = aws("sqs")
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"sqsd-dlq-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})
    queue = sqs.create_queue(QueueName=f"sqsd-{suffix}", Attributes={"RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    yield queue, dlq
    sqs.delete_queue(QueueUrl=queue)
    sqs.delete_queue(QueueUrl=dlq)


def _run(aws, queue: str, app: App, until, timeout: float = 30) -> None:
    daemon = _sqsd().Daemon(
        {
            "WorkerQueueURL": queue,
            "HttpPath": "/internal/sqsd/jobs",
            "HttpConnections": "1",
            "ErrorVisibilityTimeout": "1",
            "VisibilityTimeout": "30",
        },
        aws("sqs"),
        port=app.port,
    )
    daemon.wait_seconds = 1
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        time.sleep(0.2)
    daemon.done.set()
    thread.join(timeout=10)
    assert until(), app.posts


def _count(aws, queue: str) -> int:
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_a_message_is_posted_with_the_daemons_headers_and_deleted_on_200(aws, queues):
    queue, _dlq = queues
    sent = aws("sqs").send_message(
        QueueUrl=queue,
        MessageBody='{"item_id": "x"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "transcode"}},
    )
    app = App([200])
    _run(aws, queue, app, lambda: app.posts and _count(aws, queue) == 0)
    (post,) = app.posts
    assert post["path"] == "/internal/sqsd/jobs" and post["body"] == '{"item_id": "x"}'
    headers = post["headers"]
    assert headers["User-Agent"].startswith("aws-sqsd/")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Aws-Sqsd-Msgid"] == sent["MessageId"]
    assert headers["X-Aws-Sqsd-Receive-Count"] == "1"
    assert headers["X-Aws-Sqsd-Queue"] == queue.rsplit("/", 1)[-1]
    assert headers["X-Aws-Sqsd-First-Received-At"].endswith("Z")
    assert headers["X-Aws-Sqsd-Attr-kind"] == "transcode"


def test_a_failed_job_comes_back_and_the_queues_redrive_policy_dead_letters_it(aws, queues):
    queue, dlq = queues
    aws("sqs").send_message(QueueUrl=queue, MessageBody="job")
    app = App([500, 500, 500])
    # Two failed deliveries (Receive-Count 1 and 2, each visible again after
    # ErrorVisibilityTimeout); the third receive makes SQS move it to the dead-letter queue.
    _run(aws, queue, app, lambda: _count(aws, dlq) == 1)
    assert [p["headers"]["X-Aws-Sqsd-Receive-Count"] for p in app.posts] == ["1", "2"]
    assert _count(aws, queue) == 0

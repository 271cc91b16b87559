"""The route Elastic Beanstalk's worker daemon POSTs jobs to (streamapp.api.sqsd), driven as
sqsd drives it: receive from the job queue, POST the body with the daemon's headers, delete the
message on a 200. Only an app given STREAMAPP_SQSD_PATH (the worker environment) has it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from streamapp.app import create_app
from streamapp.config import Settings

from tests.app.conftest import MAX_ATTEMPTS, Media, upload
from tests.app.test_worker import failing_ffmpeg  # noqa: F401 - the fixture

pytestmark = pytest.mark.beanstalk

PATH = "/internal/sqsd/jobs"


def daemon_headers(attempt: int) -> dict[str, str]:
    return {
        "User-Agent": "aws-sqsd/3.0.4",
        "Content-Type": "application/json",
        "X-Aws-Sqsd-Msgid": str(uuid.uuid4()),
        "X-Aws-Sqsd-Receive-Count": str(attempt),
    }


@pytest.fixture(scope="module")
def worker_env(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """The app as the worker environment runs it (sqsd_path set), per ffmpeg."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        app = create_app(
            settings.model_copy(update={"sqsd_path": PATH, **overrides}), configure_logging=False
        )
        client = TestClient(app, raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def take_job(aws: Callable[..., Any], settings: Settings, item_id: str) -> dict[str, Any]:
    """Receive the item's job as sqsd does; other tests' jobs go back at once."""
    sqs = aws("sqs")
    for _ in range(20):
        got = sqs.receive_message(
            QueueUrl=settings.jobs_queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        mine = None
        for message in got:
            if item_id in message["Body"] and mine is None:
                mine = message
            else:
                sqs.change_message_visibility(
                    QueueUrl=settings.jobs_queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
        if mine:
            return mine
    raise AssertionError(f"no job for {item_id}")


def test_the_daemon_delivers_a_job_and_the_item_is_ready(
    client: TestClient,
    uploader: dict[str, str],
    media: Media,
    settings: Settings,
    aws: Callable[..., Any],
    worker_env: Callable[..., TestClient],
) -> None:
    worker = worker_env()
    item = upload(client, uploader, media.song, "Song through sqsd").json()
    message = take_job(aws, settings, item["id"])
    resp = worker.post(PATH, content=message["Body"], headers=daemon_headers(1))
    assert resp.status_code == 200 and resp.json() == {"status": "done"}
    aws("sqs").delete_message(
        QueueUrl=settings.jobs_queue_url, ReceiptHandle=message["ReceiptHandle"]
    )
    assert client.get(f"/api/items/{item['id']}", headers=uploader).json()["status"] == "ready"

    # A malformed message is dropped (200: the daemon deletes it, nothing is retried).
    dropped = worker.post(PATH, content="not json", headers=daemon_headers(1))
    assert dropped.status_code == 200


def test_a_failing_job_is_delivered_again_then_fails_the_item(
    client: TestClient,
    uploader: dict[str, str],
    media: Media,
    settings: Settings,
    aws: Callable[..., Any],
    worker_env: Callable[..., TestClient],
    failing_ffmpeg: str,  # noqa: F811 - the fixture
) -> None:
    worker = worker_env(ffmpeg=failing_ffmpeg)
    item = upload(client, uploader, media.song, "Doomed song through sqsd").json()
    message = take_job(aws, settings, item["id"])
    url = f"/api/items/{item['id']}"
    first = worker.post(PATH, content=message["Body"], headers=daemon_headers(1))
    assert first.status_code == 500 and first.json()["code"] == "job_failed"
    retrying = client.get(url, headers=uploader).json()
    assert retrying["status"] == "queued" and "attempt 1 failed" in retrying["failure_reason"]
    last = worker.post(PATH, content=message["Body"], headers=daemon_headers(MAX_ATTEMPTS))
    assert last.status_code == 500
    failed = client.get(url, headers=uploader).json()
    assert (
        failed["status"] == "failed" and f"after {MAX_ATTEMPTS} attempt" in failed["failure_reason"]
    )
    aws("sqs").delete_message(
        QueueUrl=settings.jobs_queue_url, ReceiptHandle=message["ReceiptHandle"]
    )


def test_only_the_worker_environment_runs_posted_jobs(
    client: TestClient, worker_env: Callable[..., TestClient]
) -> None:
    job = json.dumps({"v": 1, "item_id": str(uuid.uuid4()), "source_key": "x", "kind": "video"})
    # The web tier (no sqsd_path) has no such route: a viewer cannot post jobs.
    assert client.post(PATH, content=job, headers=daemon_headers(1)).status_code in (404, 405)
    # On the worker environment only the daemon posts (its User-Agent): a stray caller is refused.
    refused = worker_env().post(PATH, content=job, headers={"Content-Type": "application/json"})
    assert refused.status_code == 403

"""Worker behaviour: progress while running, retries, dead-letter queue, the source is kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from streamapp.config import Settings
from streamapp.worker import Worker

from tests.app.conftest import MAX_ATTEMPTS, Media, _ffmpeg, upload


@pytest.fixture(scope="module")
def failing_ffmpeg(tmp_path_factory: pytest.TempPathFactory) -> str:
    """ffmpeg that works for probing but crashes when asked to transcode (-progress)."""
    path = tmp_path_factory.mktemp("bin") / "ffmpeg"
    path.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" -progress "*) echo "simulated encoder crash" >&2; exit 1;; esac\n'
        'exec ffmpeg "$@"\n'
    )
    path.chmod(0o755)
    return str(path)


def _queue_depth(aws: Callable[..., Any], url: str) -> int:
    attrs = aws("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_failures_retry_then_dead_letter_then_manual_retry(
    client: TestClient,
    uploader: dict[str, str],
    media: Media,
    settings: Settings,
    aws: Callable[..., Any],
    run_worker: Callable[..., int],
    failing_ffmpeg: str,
) -> None:
    item = upload(client, uploader, media.song, "Doomed song").json()
    url = f"/api/items/{item['id']}"
    dlq_before = _queue_depth(aws, settings.jobs_dlq_url or "")

    run_worker(max_jobs=1, ffmpeg=failing_ffmpeg)
    first = client.get(url, headers=uploader).json()
    assert first["status"] == "queued" and first["attempts"] == 1
    assert "attempt 1 failed" in first["failure_reason"]

    run_worker(max_jobs=MAX_ATTEMPTS, ffmpeg=failing_ffmpeg)
    failed = client.get(url, headers=uploader).json()
    assert failed["status"] == "failed", failed
    assert "simulated encoder crash" in failed["failure_reason"]
    assert f"after {MAX_ATTEMPTS} attempt" in failed["failure_reason"]
    play = client.get(f"{url}/playback", headers=uploader)
    assert play.status_code == 409 and play.json()["code"] == "not_ready"

    # The next receive makes SQS move the message to the dead-letter queue.
    run_worker(max_jobs=1)
    assert _queue_depth(aws, settings.jobs_queue_url) == 0
    assert _queue_depth(aws, settings.jobs_dlq_url or "") == dlq_before + 1
    # The source is still there, so the item can be retried once the cause is fixed.
    source = aws("s3").list_objects_v2(
        Bucket=settings.media_bucket, Prefix=f"sources/{item['id']}/"
    )
    assert source["KeyCount"] == 1
    resp = client.post(f"{url}/retry", headers=uploader)
    assert resp.status_code == 200 and resp.json()["status"] == "queued"
    run_worker(max_jobs=2)
    assert client.get(url, headers=uploader).json()["status"] == "ready"


def test_progress_is_visible_while_transcoding(
    client: TestClient,
    uploader: dict[str, str],
    tmp_path: Path,
    run_worker: Callable[..., int],
) -> None:
    longer = tmp_path / "longer.mp4"
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=20",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=220:duration=20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-shortest",
        str(longer),
    )
    item = upload(client, uploader, longer, "Longer clip", "video/mp4").json()
    seen: list[tuple[str, float]] = []
    worker = threading.Thread(target=run_worker, kwargs={"max_jobs": 1}, daemon=True)
    worker.start()
    deadline = time.monotonic() + 120
    while worker.is_alive() and time.monotonic() < deadline:
        body = client.get(f"/api/items/{item['id']}", headers=uploader).json()
        seen.append((body["status"], body["progress"]))
        time.sleep(0.1)
    worker.join(timeout=5)
    assert any(s == "processing" and 0 < p < 1 for s, p in seen), seen[-5:]
    final = client.get(f"/api/items/{item['id']}", headers=uploader).json()
    assert final["status"] == "ready" and final["progress"] == 1.0


def test_a_job_arriving_late_in_a_long_poll_is_received_by_it(
    client: TestClient,
    uploader: dict[str, str],
    media: Media,
    settings: Settings,
    run_worker: Callable[..., int],
) -> None:
    """Production polls for 20 s. The receive's read timeout must outlast the wait: a receive
    the client gave up on still runs in SQS and hands a job that arrives late in the wait to a
    closed connection, hidden for the visibility timeout (the make-up test's video sat there,
    never transcoded). The wait here is past the app's default read timeout (10 s)."""
    run_worker()  # start from an empty queue
    wait = 12
    worker = Worker(settings.model_copy(update={"worker_wait_seconds": wait}))
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(worker.run(max_jobs=1)), daemon=True)
    thread.start()
    time.sleep(wait - 1.5)  # late in the first poll, past the old 10 s read timeout
    item = upload(client, uploader, media.song, "Late in the poll", "audio/mpeg").json()
    thread.join(timeout=wait + 60)
    worker.stopping.set()
    thread.join(timeout=2 * wait + 30)
    assert done == [1], "the worker never received the job"
    final = client.get(f"/api/items/{item['id']}", headers=uploader).json()
    assert final["status"] == "ready", final


def test_a_forged_job_cannot_publish_another_users_source(
    client: TestClient,
    uploader: dict[str, str],
    media: Media,
    settings: Settings,
    aws: Callable[..., Any],
    run_worker: Callable[..., int],
) -> None:
    """Whoever can send to the queue names an item and a source key: the worker transcodes the
    item's own source (from its row), not the key in the message, so another user's private
    upload is never published under someone else's item."""
    import json

    private = upload(client, uploader, media.video, "Private video", visibility="private").json()
    song = upload(client, uploader, media.song, "A song").json()
    sqs = aws("sqs")
    # Hold every queued job (invisible for a minute), so the worker takes the forged one.
    held = sqs.receive_message(
        QueueUrl=settings.jobs_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", [])
    forged = {
        "v": 1,
        "item_id": song["id"],
        "source_key": f"sources/{private['id']}/source.mp4",
        "kind": "audio",
    }
    sqs.send_message(QueueUrl=settings.jobs_queue_url, MessageBody=json.dumps(forged))
    try:
        assert run_worker(max_jobs=1) == 1
    finally:
        for message in held:
            sqs.change_message_visibility(
                QueueUrl=settings.jobs_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
    published = client.get(f"/api/items/{song['id']}", headers=uploader).json()
    assert published["status"] == "ready", published
    # The song's own audio ladder, not the private video's picture rungs.
    assert published["renditions"] and all(not r.get("height") for r in published["renditions"]), (
        published["renditions"]
    )
    run_worker(max_jobs=10)  # the held jobs: both items' own

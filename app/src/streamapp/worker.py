"""Transcoding worker (``streamapp-worker``): pull a job from SQS, make HLS, publish it.

Delivery is at-least-once, so every step is idempotent: a job for a deleted or already ready
item is dropped, and a retried job overwrites the previous attempt's output. The source in S3 is
only ever read. After ``job_max_attempts`` failures the item is marked failed with the reason,
and SQS's redrive policy moves the message to the dead-letter queue.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from streamapp import cgroups, db, jsonlog, storage
from streamapp.aws import client, long_poll_config
from streamapp.config import Settings, get_settings, require_resources
from streamapp.jobs import Job
from streamapp.ladder import THUMBNAIL_NAME, plan
from streamapp.models import MediaItem, Status
from streamapp.probe import ProbeError, probe
from streamapp.transcode import run_ladder

log = logging.getLogger("streamapp.worker")


class Heartbeat(threading.Thread):
    """Keeps the message invisible while a long transcode runs."""

    def __init__(self, settings: Settings, receipt: str) -> None:
        super().__init__(daemon=True, name="sqs-heartbeat")
        self.settings, self.receipt = settings, receipt
        self.stopped = threading.Event()

    def run(self) -> None:
        period = max(self.settings.worker_visibility_timeout / 3, 1)
        while not self.stopped.wait(period):
            try:
                client(self.settings, "sqs").change_message_visibility(
                    QueueUrl=self.settings.jobs_queue_url,
                    ReceiptHandle=self.receipt,
                    VisibilityTimeout=self.settings.worker_visibility_timeout,
                )
            except Exception:
                log.warning("heartbeat failed", exc_info=True)


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()

    # -- the loop ---------------------------------------------------------------------------
    def run(self, *, max_jobs: int | None = None, exit_when_idle: bool = False) -> int:
        done = 0
        while not self.stopping.is_set() and (max_jobs is None or done < max_jobs):
            try:
                messages = self._receive()
            except Exception:
                log.exception("receive failed; backing off")
                self.stopping.wait(5)
                continue
            if not messages:
                if exit_when_idle:
                    break
                continue
            for message in messages:
                self.handle(message)
                done += 1
        return done

    def _receive(self) -> list[dict[str, Any]]:
        # A client whose read timeout outlasts the long poll (see long_poll_config).
        sqs = client(
            self.settings, "sqs", config=long_poll_config(self.settings.worker_wait_seconds)
        )
        resp = sqs.receive_message(
            QueueUrl=self.settings.jobs_queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=self.settings.worker_wait_seconds,
            VisibilityTimeout=self.settings.worker_visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return list(resp.get("Messages", []))

    # -- one job ----------------------------------------------------------------------------
    def handle(self, message: dict[str, Any]) -> None:
        receipt = message["ReceiptHandle"]
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            job = Job.parse(message["Body"])
            uuid.UUID(job.item_id)
        except (ValueError, KeyError, TypeError):
            log.error("malformed job dropped", extra={"body": message.get("Body", "")[:200]})
            self._delete(receipt)
            return
        if attempt > self.settings.job_max_attempts:
            # The queue has no (or a larger) redrive limit: do the dead-lettering ourselves.
            self._fail(job, attempt, "gave up after repeated failures")
            self._dead_letter(message, receipt)
            return
        beat = Heartbeat(self.settings, receipt)
        beat.start()
        try:
            outcome = self._transcode(job, attempt)
        except Exception as exc:
            reason = str(exc)[:500] or type(exc).__name__
            log.warning(
                "job failed", extra={"item_id": job.item_id, "attempt": attempt, "reason": reason}
            )
            self._after_failure(job, attempt, reason, receipt)
            return
        finally:
            beat.stopped.set()
        if outcome != "retry":
            self._delete(receipt)

    def _transcode(self, job: Job, attempt: int) -> str:
        with db.new_session(self.settings) as session:
            item = session.get(MediaItem, uuid.UUID(job.item_id))
            if item is None:
                log.info("item gone; job dropped", extra={"item_id": job.item_id})
                return "dropped"
            if item.status == Status.ready:
                return "duplicate"
            item.status, item.progress, item.attempts = Status.processing, 0.0, attempt
            # The item's own source, never the message's: whoever may send to the queue must
            # not be able to have another user's private upload published under this item.
            source_key = item.source_key
            session.commit()
        work = Path(tempfile.mkdtemp(prefix=f"job-{job.item_id}-", dir=self.settings.work_dir))
        try:
            source = work / ("source" + Path(source_key).suffix)
            storage.download(self.settings, source_key, source)
            try:
                info = probe(self.settings, str(source))
            except ProbeError as exc:
                raise RuntimeError(exc.message) from exc
            rungs = plan(self.settings, info)
            out = work / "hls"
            out.mkdir()
            elapsed = run_ladder(self.settings, info, source, out, rungs, self._progress(job))
            self._publish(job, out, info.kind, [r.as_dict() for r in rungs])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log.info(
            "job done",
            extra={
                "item_id": job.item_id,
                "kind": info.kind,
                "rungs": [r.name for r in rungs],
                "media_seconds": round(info.duration, 2),
                "transcode_seconds": round(elapsed, 2),
                "realtime_factor": round(info.duration / max(elapsed, 1e-6), 2),
            },
        )
        return "done"

    def _progress(self, job: Job):  # type: ignore[no-untyped-def]
        last = [0.0]

        def report(fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] < 0.5:  # at most two row updates per second
                return
            last[0] = now
            with db.new_session(self.settings) as session:
                item = session.get(MediaItem, uuid.UUID(job.item_id))
                if item is not None:
                    item.progress = round(fraction, 4)
                    session.commit()

        return report

    def _publish(self, job: Job, out: Path, kind: str, renditions: list[dict[str, Any]]) -> None:
        prefix = storage.hls_prefix(self.settings, job.item_id)
        thumb_file = out / THUMBNAIL_NAME[kind]
        thumb_key = storage.thumbnail_key(self.settings, job.item_id, thumb_file.name)
        has_thumb = thumb_file.exists()
        if has_thumb:
            storage.upload_file(self.settings, thumb_file, thumb_key)
            thumb_file.unlink()
        # A previous attempt may have left other segment files: start from a clean prefix.
        storage.delete_prefix(self.settings, prefix)
        storage.upload_tree(self.settings, out, prefix)
        with db.new_session(self.settings) as session:
            item = session.get(MediaItem, uuid.UUID(job.item_id))
            if item is None:  # deleted while we worked: remove what we just wrote
                storage.delete_prefix(self.settings, prefix)
                storage.delete_keys(self.settings, [thumb_key])
                return
            item.status, item.progress, item.failure_reason = Status.ready, 1.0, None
            item.hls_prefix, item.renditions = prefix, renditions
            item.thumbnail_key = thumb_key if has_thumb else None
            session.commit()

    # -- a job delivered by Elastic Beanstalk's SQS daemon ----------------------------------
    def handle_delivered(self, body: str, attempt: int) -> bool:
        """One job that Elastic Beanstalk's worker daemon (sqsd) received and POSTed to the app:
        the daemon owns the message. True: done with it (the daemon deletes it). False: have it
        delivered again, after the environment's ErrorVisibilityTimeout (retry_delay_seconds);
        once ``job_max_attempts`` is reached the item is failed and the queue's redrive policy
        moves the message to the dead-letter queue at its next receive."""
        try:
            job = Job.parse(body)
            uuid.UUID(job.item_id)
        except (ValueError, KeyError, TypeError):
            log.error("malformed job dropped", extra={"body": body[:200]})
            return True
        if attempt > self.settings.job_max_attempts:
            # The queue has no (or a larger) redrive limit: do the dead-lettering ourselves.
            self._fail(job, attempt, "gave up after repeated failures")
            if self.settings.jobs_dlq_url:
                client(self.settings, "sqs").send_message(
                    QueueUrl=self.settings.jobs_dlq_url, MessageBody=body
                )
            return True
        try:
            self._transcode(job, attempt)
        except Exception as exc:
            reason = str(exc)[:500] or type(exc).__name__
            log.warning(
                "job failed", extra={"item_id": job.item_id, "attempt": attempt, "reason": reason}
            )
            if attempt >= self.settings.job_max_attempts:
                self._fail(job, attempt, reason)
            else:
                self._record_retry(job, attempt, reason)
            return False
        return True

    # -- failure paths ----------------------------------------------------------------------
    def _after_failure(self, job: Job, attempt: int, reason: str, receipt: str) -> None:
        if attempt >= self.settings.job_max_attempts:
            self._fail(job, attempt, reason)
            # Visible again at once: the next receive makes SQS move it to the DLQ.
            self._set_visibility(receipt, 0)
            return
        self._record_retry(job, attempt, reason)
        self._set_visibility(receipt, self.settings.retry_delay_seconds)

    def _record_retry(self, job: Job, attempt: int, reason: str) -> None:
        try:
            with db.new_session(self.settings) as session:
                item = session.get(MediaItem, uuid.UUID(job.item_id))
                if item is not None:
                    item.status, item.progress = Status.queued, 0.0
                    item.failure_reason = f"attempt {attempt} failed: {reason}; retrying"
                    session.commit()
        except Exception:
            log.exception("could not record the failed attempt")

    def _fail(self, job: Job, attempt: int, reason: str) -> None:
        with db.new_session(self.settings) as session:
            item = session.get(MediaItem, uuid.UUID(job.item_id))
            if item is not None:
                item.status, item.progress, item.attempts = Status.failed, 0.0, attempt
                item.failure_reason = f"transcoding failed after {attempt} attempt(s): {reason}"
                session.commit()
        log.error("job failed for good", extra={"item_id": job.item_id, "reason": reason})

    def _dead_letter(self, message: dict[str, Any], receipt: str) -> None:
        if self.settings.jobs_dlq_url:
            client(self.settings, "sqs").send_message(
                QueueUrl=self.settings.jobs_dlq_url, MessageBody=message["Body"]
            )
        self._delete(receipt)

    def _delete(self, receipt: str) -> None:
        client(self.settings, "sqs").delete_message(
            QueueUrl=self.settings.jobs_queue_url, ReceiptHandle=receipt
        )

    def _set_visibility(self, receipt: str, seconds: int) -> None:
        try:
            client(self.settings, "sqs").change_message_visibility(
                QueueUrl=self.settings.jobs_queue_url,
                ReceiptHandle=receipt,
                VisibilityTimeout=seconds,
            )
        except Exception:
            log.warning("could not change message visibility", exc_info=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="streamapp-worker", description=__doc__.split("\n")[0])
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")
    parser.add_argument(
        "--exit-when-idle", action="store_true", help="exit when the queue is empty"
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    require_resources(settings)
    jsonlog.setup(settings.log_level, settings.log_file)
    # Into a leaf of the unit's delegated cgroup before any thread starts, so that each
    # ffmpeg/ffprobe gets a cgroup of its own (or the log says why not).
    cgroups.enter()
    worker = Worker(settings)

    def stop(signum: int, _frame: object) -> None:
        # Finish the current job (systemd's TimeoutStopSec bounds it), take no new one.
        log.info("stopping after the current job", extra={"signal": signum})
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started", extra={"queue": settings.jobs_queue_url})
    worker.run(max_jobs=args.max_jobs, exit_when_idle=args.exit_when_idle)

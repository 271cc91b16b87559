"""Readiness: every dependency a request may need answers, each checked with short timeouts."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from streamapp import db
from streamapp.aws import PROBE_CONFIG, client
from streamapp.config import Settings

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _check_db(settings: Settings) -> None:
    db.ping(settings)


def _check_dynamodb(settings: Settings) -> None:
    client(settings, "dynamodb", config=PROBE_CONFIG).describe_table(
        TableName=settings.sessions_table
    )


def _check_s3(settings: Settings) -> None:
    # A list under the HLS prefix, which the web tier's role may list (s3:ListBucket with an
    # s3:prefix condition); HeadBucket sends no prefix, so that grant would refuse it.
    client(settings, "s3", config=PROBE_CONFIG).list_objects_v2(
        Bucket=settings.media_bucket, Prefix=settings.hls_prefix, MaxKeys=1
    )


def _check_sqs(settings: Settings) -> None:
    client(settings, "sqs", config=PROBE_CONFIG).get_queue_attributes(
        QueueUrl=settings.jobs_queue_url, AttributeNames=["QueueArn"]
    )


CHECKS = {"database": _check_db, "dynamodb": _check_dynamodb, "s3": _check_s3, "sqs": _check_sqs}


def _timed(name: str, func: Any, settings: Settings) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        func(settings)
    except Exception as exc:  # any failure means "not ready"
        # The error names hosts, account ids and resource ARNs: the log gets it, the answer
        # (anyone may ask) only which dependency failed.
        log.warning(
            "readiness check failed",
            extra={"check": name, "error": f"{type(exc).__name__}: {str(exc)[:300]}"},
        )
        return {"ok": False}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1)}


def readiness(settings: Settings) -> tuple[bool, dict[str, Any]]:
    # In parallel, so one slow dependency costs its timeout once, not four times.
    futures = {name: _pool.submit(_timed, name, func, settings) for name, func in CHECKS.items()}
    results = {name: fut.result(timeout=15) for name, fut in futures.items()}
    return all(r["ok"] for r in results.values()), results

"""Per-user quotas on what costs the platform most: uploads (probe, storage, a transcoding
job) and retries (another transcoding job).

Each accepted upload or retry is an event in PostgreSQL (``quota_events``: user, kind, bytes,
time); a user may have ``uploads_per_day`` uploads of ``upload_bytes_per_day`` bytes in all,
and ``retries_per_day`` retries, within any 24 hours. Deleting an item gives nothing back (the
work was done), so upload, delete, upload again does not get around it. A user's events older
than the window are deleted when they add one: the table holds at most a day of events.
Concurrent requests of one user may overshoot by what is in flight (at most the probe slots of
each API process for uploads); the next request sees them all.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from streamapp.config import Settings
from streamapp.errors import ApiError
from streamapp.models import QuotaEvent

WINDOW = timedelta(days=1)
UPLOAD, RETRY = "upload", "retry"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Usage:
    count: int
    bytes: int
    oldest: datetime | None  # when the first counted event leaves the window, less WINDOW

    def retry_after(self, now: datetime) -> int:
        if self.oldest is None:
            return 1
        return max(1, math.ceil((self.oldest + WINDOW - now).total_seconds()))


def usage(database: Session, user_id: uuid.UUID, kind: str) -> Usage:
    """What ``user_id`` used of ``kind`` ("upload", "retry") within the last 24 hours."""
    since = _now() - WINDOW
    row = database.execute(
        select(
            func.count(), func.coalesce(func.sum(QuotaEvent.bytes), 0), func.min(QuotaEvent.at)
        ).where(QuotaEvent.user_id == user_id, QuotaEvent.kind == kind, QuotaEvent.at > since)
    ).one()
    return Usage(int(row[0]), int(row[1]), row[2])


def record(database: Session, user_id: uuid.UUID, kind: str, size: int = 0) -> int:
    """Count an accepted ``kind`` of ``user_id`` (in the caller's transaction) and drop the
    user's events that left the window. Returns the event's id."""
    now = _now()
    database.execute(
        delete(QuotaEvent).where(QuotaEvent.user_id == user_id, QuotaEvent.at <= now - WINDOW)
    )
    return int(
        database.execute(
            insert(QuotaEvent)
            .values(user_id=user_id, kind=kind, bytes=size, at=now)
            .returning(QuotaEvent.id)
        ).scalar_one()
    )


def forget(database: Session, event_id: int) -> None:
    """Undo ``record`` (in the caller's transaction): what it counted did not happen."""
    database.execute(delete(QuotaEvent).where(QuotaEvent.id == event_id))


def _refused(code: str, message: str, used: Usage) -> ApiError:
    wait = used.retry_after(_now())
    return ApiError(
        429, code, message, headers={"Retry-After": str(wait)}, retry_after_seconds=wait
    )


def check_upload(database: Session, settings: Settings, user_id: uuid.UUID, size: int) -> None:
    """Refuse (429 upload_quota_exceeded) an upload of ``size`` bytes beyond the user's quota."""
    used = usage(database, user_id, UPLOAD)
    if (
        used.count + 1 > settings.uploads_per_day
        or used.bytes + size > settings.upload_bytes_per_day
    ):
        raise _refused(
            "upload_quota_exceeded",
            f"Upload quota reached: {used.count} files, {used.bytes} bytes in the last 24 hours "
            f"(at most {settings.uploads_per_day} files, {settings.upload_bytes_per_day} bytes).",
            used,
        )


def check_retry(database: Session, settings: Settings, user_id: uuid.UUID) -> None:
    """Refuse (429 retry_quota_exceeded) a retry beyond the user's quota."""
    used = usage(database, user_id, RETRY)
    if used.count + 1 > settings.retries_per_day:
        raise _refused(
            "retry_quota_exceeded",
            f"Retry quota reached: {used.count} retries in the last 24 hours "
            f"(at most {settings.retries_per_day}).",
            used,
        )

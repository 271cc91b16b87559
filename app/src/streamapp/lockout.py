"""Per-account sign-in throttling: failed attempts counted in PostgreSQL, with backoff.

The per-address limit (nginx's ``limit_req`` on /api/auth/) does not stop a password guesser
with many addresses. So every attempt on an e-mail address is counted first (before the
password is checked, so parallel guesses are counted too), and a correct password resets the
count. The first ``login_free_attempts`` attempts go ahead at once; each later one locks the
address for ``2^(n - free - 1)`` seconds (1, 2, 4, ... at most ``login_backoff_max_seconds``),
and an attempt while it is locked gets 429 without its password being looked at. A count
whose last attempt is older than ``login_window_seconds`` starts over.

No user enumeration: addresses without an account are counted and locked exactly alike (the
key is the address, whether or not anyone owns it), and answers are the same. Bounded: a row
is a hash of the address (64 characters, never the address) with three numbers, and rows whose
last attempt left the window are deleted as attempts come in, so the table holds at most the
addresses tried within one window.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from streamapp.config import Settings

_COUNT = text(
    """
    INSERT INTO login_attempts AS a (key, attempts, last_attempt_at, locked_until)
    VALUES (:key, 1, :now, NULL)
    ON CONFLICT (key) DO UPDATE SET
        attempts = CASE WHEN a.last_attempt_at < :cutoff THEN 1 ELSE a.attempts + 1 END,
        last_attempt_at = :now
    WHERE a.locked_until IS NULL OR a.locked_until <= :now
    RETURNING attempts
    """
)
_LOCK = text("UPDATE login_attempts SET locked_until = :until WHERE key = :key")
_LOCKED_UNTIL = text("SELECT locked_until FROM login_attempts WHERE key = :key")
_PRUNE = text(
    """
    DELETE FROM login_attempts WHERE key IN (
        SELECT key FROM login_attempts WHERE last_attempt_at < :cutoff LIMIT 100
    )
    """
)
_RESET = text("DELETE FROM login_attempts WHERE key = :key")


def _now() -> datetime:
    return datetime.now(UTC)


def _key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def attempt(database: Session, settings: Settings, email: str) -> int:
    """Count a sign-in attempt on ``email``. 0: go ahead and check the password; else the
    seconds until the address may try again (nothing was counted). Commits."""
    now, key = _now(), _key(email)
    cutoff = now - timedelta(seconds=settings.login_window_seconds)
    database.execute(_PRUNE, {"cutoff": cutoff})
    counted = database.execute(_COUNT, {"key": key, "now": now, "cutoff": cutoff}).scalar()
    if counted is None:  # locked: the row was left as it was
        until = database.execute(_LOCKED_UNTIL, {"key": key}).scalar_one()
        database.commit()
        return max(1, math.ceil((until - now).total_seconds()))
    beyond = counted - settings.login_free_attempts
    if beyond > 0:
        delay = min(settings.login_backoff_max_seconds, 2 ** min(beyond - 1, 30))
        database.execute(_LOCK, {"key": key, "until": now + timedelta(seconds=delay)})
    database.commit()
    return 0


def succeeded(database: Session, email: str) -> None:
    """The password was right: the address starts with a clean slate. Commits."""
    database.execute(_RESET, {"key": _key(email)})
    database.commit()

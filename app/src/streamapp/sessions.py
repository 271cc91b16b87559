"""Login sessions in DynamoDB (table key ``pk``, TTL attribute ``expires_at``).

A token is ``<user id>.<random>``; only a SHA-256 of the whole token is stored (item
``session#<sha256>``), so a table dump does not hand out live sessions. A session ends at the
first of:

- its absolute lifetime (``session_ttl_seconds`` after sign-in, ``absolute_expires_at``);
- its idle timeout: ``expires_at`` is moved to ``now + session_idle_seconds`` (never past the
  absolute end) when the session is used, at most once per ``_touch_every`` seconds, so an
  unused session stops working, and DynamoDB's TTL deletes it, after the idle time;
- a sign-out everywhere or a password change: each user has an item ``user#<id>`` whose
  ``generation`` they raise; a session carries the generation it was made in and works only
  while that is the user's current one. The token names its user, so one BatchGetItem reads
  the session and its user's generation together.

TTL deletion is lazy, hence the explicit expiry checks on every lookup.

Found sessions are cached in the process for ``session_cache_seconds`` (default 5 s; 0 turns
the cache off): every authenticated request looks its session up, and a DynamoDB round trip
per request dominated the latency of cheap endpoints. Misses are never cached (a session made
by another worker is usable at once), expiry is still checked on every hit, and a logout or a
sign-out everywhere drops the entries in its own process; another worker of the same host may
accept such a session for at most ``session_cache_seconds`` longer. When an entry runs out while
many requests of the same session are in flight, one of them asks DynamoDB and the others wait
for its answer (single flight) instead of all asking at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamapp.aws import client
from streamapp.config import Settings


@dataclass(frozen=True)
class SessionInfo:
    user_id: str
    role: str
    expires_at: int  # the earlier of the idle deadline and the absolute end
    generation: int


class SessionStoreBusy(BotoCoreError):
    """DynamoDB kept leaving keys of a BatchGetItem unprocessed (throttling): a 503."""

    fmt = "DynamoDB left session keys unprocessed"


_CACHE_MAX = 10_000
_cache: dict[tuple[str, str], tuple[float, SessionInfo]] = {}
_cache_lock = threading.Lock()


class _Flight:
    """One DynamoDB lookup that concurrent requests for the same session share."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.result: SessionInfo | None = None


_flights: dict[tuple[str, str], _Flight] = {}
_revoked: dict[tuple[str, str], float] = {}  # logged out here: never cache again
# Signed out everywhere here: (table, user id) -> (the user's new generation, until when to
# remember it); older sessions of the user are never cached again.
_floors: dict[tuple[str, str], tuple[int, float]] = {}
_FLIGHT_WAIT_SECONDS = 10.0
_BATCH_ATTEMPTS = 4


def _touch_every(settings: Settings) -> int:
    """Idle deadlines move at most this often per session (one UpdateItem each)."""
    return max(1, min(300, settings.session_idle_seconds // 10))


def _stale(table: str, info: SessionInfo) -> bool:
    floor = _floors.get((table, info.user_id))
    return floor is not None and info.generation < floor[0]


def _cached(table: str, pk: str, now: float) -> SessionInfo | None:
    hit = _cache.get((table, pk))
    if hit is None or hit[0] <= now or _stale(table, hit[1]):
        return None
    return hit[1]


def _remember(table: str, pk: str, info: SessionInfo, now: float, ttl: float) -> None:
    with _cache_lock:
        if (table, pk) in _revoked or _stale(table, info):
            return
        if len(_cache) >= _CACHE_MAX:
            for key in [k for k, (until, _) in _cache.items() if until <= now] or list(_cache):
                del _cache[key]
        _cache[(table, pk)] = (now + ttl, info)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _revoked.clear()
        _floors.clear()


def _pk(token: str) -> str:
    return "session#" + hashlib.sha256(token.encode()).hexdigest()


def _user_pk(user_id: str) -> str:
    return f"user#{user_id}"


def _token_user(token: str) -> str | None:
    """The user id a token names (the lookup still checks it against the stored session)."""
    user, dot, rest = token.partition(".")
    if not dot or len(rest) < 32:
        return None
    try:
        return user if str(uuid.UUID(user)) == user else None
    except ValueError:
        return None


def _generation(item: dict[str, Any] | None) -> int:
    return int(item["generation"]["N"]) if item and "generation" in item else 0


def create(settings: Settings, user_id: str, role: str) -> tuple[str, int]:
    """A new session of ``user_id``: (token, absolute end as a unix time)."""
    ddb = client(settings, "dynamodb")
    user = ddb.get_item(
        TableName=settings.sessions_table,
        Key={"pk": {"S": _user_pk(user_id)}},
        ConsistentRead=True,
    ).get("Item")
    token = f"{user_id}.{secrets.token_urlsafe(32)}"
    now = int(time.time())
    absolute = now + settings.session_ttl_seconds
    ddb.put_item(
        TableName=settings.sessions_table,
        Item={
            "pk": {"S": _pk(token)},
            "user_id": {"S": user_id},
            "role": {"S": role},
            "generation": {"N": str(_generation(user))},
            "created_at": {"N": str(now)},
            "absolute_expires_at": {"N": str(absolute)},
            "expires_at": {"N": str(min(absolute, now + settings.session_idle_seconds))},
        },
    )
    return token, absolute


def lookup(settings: Settings, token: str) -> SessionInfo | None:
    if not token or len(token) > 200:
        return None
    user_id = _token_user(token)
    if user_id is None:
        return None
    pk, now, ttl = _pk(token), time.time(), settings.session_cache_seconds
    if ttl <= 0:
        return _fetch(settings, pk, user_id, now)
    key = (settings.sessions_table, pk)
    info = _cached(settings.sessions_table, pk, now)
    if info is not None and info.expires_at > now:
        return info
    with _cache_lock:
        flight = _flights.get(key)
        leader = flight is None
        if flight is None:
            flight = _flights[key] = _Flight()
    if not leader:
        if flight.done.wait(_FLIGHT_WAIT_SECONDS) and flight.ok:
            return flight.result
        return _fetch(settings, pk, user_id, time.time())  # the leader failed: ask ourselves
    try:
        flight.result = _fetch(settings, pk, user_id, now)
        flight.ok = True
        if flight.result is not None:
            _remember(settings.sessions_table, pk, flight.result, now, ttl)
        return flight.result
    finally:
        with _cache_lock:
            _flights.pop(key, None)
        flight.done.set()


def _read(settings: Settings, pk: str, user_id: str) -> dict[str, dict[str, Any]]:
    """The session item and its user's item (absent ones left out), by pk."""
    table = settings.sessions_table
    keys = [{"pk": {"S": pk}}, {"pk": {"S": _user_pk(user_id)}}]
    pending: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
    found: dict[str, dict[str, Any]] = {}
    for attempt in range(_BATCH_ATTEMPTS):
        answer = client(settings, "dynamodb").batch_get_item(RequestItems=pending)
        for item in answer.get("Responses", {}).get(table, []):
            found[item["pk"]["S"]] = item
        pending = answer.get("UnprocessedKeys") or {}
        if not pending:
            return found
        time.sleep(0.05 * 2**attempt)
    raise SessionStoreBusy()


def _fetch(settings: Settings, pk: str, user_id: str, now: float) -> SessionInfo | None:
    items = _read(settings, pk, user_id)
    item = items.get(pk)
    if not item or item["user_id"]["S"] != user_id:
        return None
    expires_at = int(item["expires_at"]["N"])
    absolute = int(item["absolute_expires_at"]["N"])
    generation = _generation(item)
    if expires_at <= now or absolute <= now:
        return None
    if generation != _generation(items.get(_user_pk(user_id))):
        return None  # signed out everywhere, or the password changed, since it was made
    idle_deadline = min(absolute, int(now) + settings.session_idle_seconds)
    if idle_deadline - expires_at >= _touch_every(settings):
        try:
            client(settings, "dynamodb").update_item(
                TableName=settings.sessions_table,
                Key={"pk": {"S": pk}},
                UpdateExpression="SET expires_at = :deadline",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":deadline": {"N": str(idle_deadline)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None  # logged out meanwhile
            raise
        expires_at = idle_deadline
    return SessionInfo(user_id, item["role"]["S"], expires_at, generation)


def delete(settings: Settings, token: str) -> None:
    pk = _pk(token)
    key = (settings.sessions_table, pk)
    with _cache_lock:
        _cache.pop(key, None)
        # A lookup already in flight must not put the session back into the cache.
        now = time.time()
        for old in [k for k, until in _revoked.items() if until <= now]:
            del _revoked[old]
        _revoked[key] = now + _FLIGHT_WAIT_SECONDS + 60
    client(settings, "dynamodb").delete_item(
        TableName=settings.sessions_table, Key={"pk": {"S": pk}}
    )


def revoke_all(settings: Settings, user_id: str) -> None:
    """Every session of the user stops working (sign out everywhere, password change): the
    user's generation goes up. Sessions made afterwards carry the new one."""
    answer = client(settings, "dynamodb").update_item(
        TableName=settings.sessions_table,
        Key={"pk": {"S": _user_pk(user_id)}},
        UpdateExpression="ADD generation :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    generation = int(answer["Attributes"]["generation"]["N"])
    table = settings.sessions_table
    with _cache_lock:
        now = time.time()
        for old in [k for k, (_, until) in _floors.items() if until <= now]:
            del _floors[old]
        # Long enough for any lookup in flight to finish; later ones read the new generation.
        _floors[(table, user_id)] = (generation, now + _FLIGHT_WAIT_SECONDS + 60)
        for key in [k for k, (_, info) in _cache.items() if k[0] == table and _stale(table, info)]:
            del _cache[key]

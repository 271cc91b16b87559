"""Login sessions in DynamoDB (table key ``pk``, TTL attribute ``expires_at``).

Only a SHA-256 of the token is stored, so a table dump does not hand out live sessions. TTL
deletion is lazy, hence the explicit expiry check on every lookup.

Found sessions are cached in the process for ``session_cache_seconds`` (default 5 s; 0 turns
the cache off): every authenticated request looks its session up, and a DynamoDB round trip
per request dominated the latency of cheap endpoints. Misses are never cached (a session made
by another worker is usable at once), expiry is still checked on every hit, and logout drops
the entry in its own process; another worker of the same host may accept a logged-out token
for at most ``session_cache_seconds`` longer. When an entry runs out while many requests of
the same session are in flight, one of them asks DynamoDB and the others wait for its answer
(single flight) instead of all asking at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from streamapp.aws import client
from streamapp.config import Settings


@dataclass(frozen=True)
class SessionInfo:
    user_id: str
    role: str
    expires_at: int


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
_FLIGHT_WAIT_SECONDS = 10.0


def _cached(table: str, pk: str, now: float) -> SessionInfo | None:
    hit = _cache.get((table, pk))
    if hit is None or hit[0] <= now:
        return None
    return hit[1]


def _remember(table: str, pk: str, info: SessionInfo, now: float, ttl: float) -> None:
    with _cache_lock:
        if (table, pk) in _revoked:
            return
        if len(_cache) >= _CACHE_MAX:
            for key in [k for k, (until, _) in _cache.items() if until <= now] or list(_cache):
                del _cache[key]
        _cache[(table, pk)] = (now + ttl, info)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _revoked.clear()


def _pk(token: str) -> str:
    return "session#" + hashlib.sha256(token.encode()).hexdigest()


def create(settings: Settings, user_id: str, role: str) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    expires_at = int(time.time()) + settings.session_ttl_seconds
    client(settings, "dynamodb").put_item(
        TableName=settings.sessions_table,
        Item={
            "pk": {"S": _pk(token)},
            "user_id": {"S": user_id},
            "role": {"S": role},
            "created_at": {"N": str(int(time.time()))},
            "expires_at": {"N": str(expires_at)},
        },
    )
    return token, expires_at


def lookup(settings: Settings, token: str) -> SessionInfo | None:
    if not token or len(token) > 200:
        return None
    pk, now, ttl = _pk(token), time.time(), settings.session_cache_seconds
    if ttl <= 0:
        return _fetch(settings, pk, now)
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
        return _fetch(settings, pk, time.time())  # the leader failed: ask for ourselves
    try:
        flight.result = _fetch(settings, pk, now)
        flight.ok = True
        if flight.result is not None:
            _remember(settings.sessions_table, pk, flight.result, now, ttl)
        return flight.result
    finally:
        with _cache_lock:
            _flights.pop(key, None)
        flight.done.set()


def _fetch(settings: Settings, pk: str, now: float) -> SessionInfo | None:
    item = (
        client(settings, "dynamodb")
        .get_item(TableName=settings.sessions_table, Key={"pk": {"S": pk}})
        .get("Item")
    )
    if not item:
        return None
    expires_at = int(item["expires_at"]["N"])
    if expires_at <= now:
        return None
    return SessionInfo(item["user_id"]["S"], item["role"]["S"], expires_at)


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

"""The in-process session cache: single flight on expiry, and logout beats a lookup in flight."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from streamapp import sessions
from streamapp.config import Settings


@pytest.fixture
def token(settings: Settings) -> str:
    sessions.clear_cache()
    token, _ = sessions.create(settings, str(uuid.uuid4()), "viewer")
    return token


def test_concurrent_lookups_share_one_dynamodb_call(
    settings: Settings, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_fetch = sessions._fetch

    def slow_fetch(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        time.sleep(0.3)  # a slow DynamoDB answer: the other requests arrive meanwhile
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(sessions, "_fetch", slow_fetch)
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(sessions.lookup(settings, token)))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 20 and all(r is not None for r in results)
    assert len(calls) == 1
    # Unknown tokens are never cached: each lookup asks again.
    unknown = f"{uuid.uuid4()}.{'x' * 43}"
    assert sessions.lookup(settings, unknown) is None
    assert sessions.lookup(settings, unknown) is None
    assert len(calls) == 3
    # A token that is not of the form <user id>.<secret> costs no DynamoDB call at all.
    assert sessions.lookup(settings, "no-such-token") is None
    assert len(calls) == 3


def test_logout_wins_over_a_lookup_in_flight(settings: Settings, token: str) -> None:
    info = sessions.lookup(settings, token)
    assert info is not None
    sessions.delete(settings, token)
    # A lookup that read DynamoDB just before the logout finishes after it:
    sessions._remember(settings.sessions_table, sessions._pk(token), info, time.time(), 60)
    assert sessions.lookup(settings, token) is None

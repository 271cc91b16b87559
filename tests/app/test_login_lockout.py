"""Issue 16, item 7 (the app's part): per-account failed sign-in counters with backoff, in
PostgreSQL, on top of nginx's per-address limit; the same answers whether or not the account
exists; a bounded table that holds no e-mail address."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from streamapp import db
from streamapp.app import create_app
from streamapp.config import Settings

from tests.app.conftest import TEST_PASSWORD, bearer

WRONG = "not the password"


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    # Each "client" here is another address: nginx's per-address limit would not see them.
    with TestClient(create_app(settings, configure_logging=False)) as client:
        yield client


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """streamapp.lockout's clock, stopped, and moved by the test only."""
    moved = {"by": timedelta(0)}
    try:
        from streamapp import lockout
    except ImportError:  # an app without the lockout (the proof that these tests fail there)
        return moved
    start = lockout._now()
    monkeypatch.setattr(lockout, "_now", lambda: start + moved["by"])
    return moved


def _login(api: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    resp = api.post("/api/auth/login", json={"email": email, "password": password})
    api.cookies.clear()
    return resp


def _signup(api: TestClient) -> str:
    email = f"lock-{uuid.uuid4().hex[:10]}@example.com"
    assert api.post("/api/auth/signup", json={"email": email, "password": TEST_PASSWORD}).is_success
    api.cookies.clear()
    return email


def test_password_guessing_is_locked_out_per_account(api: TestClient, clock) -> None:  # type: ignore[no-untyped-def]
    """Five guesses go through, the sixth locks the account: then even the right password is
    not looked at (a guesser with many addresses gets no more tries than one)."""
    email = _signup(api)
    for _ in range(6):
        assert _login(api, email, WRONG).status_code == 401
    locked = _login(api, email, TEST_PASSWORD)
    assert locked.status_code == 429, locked.text
    assert locked.json()["code"] == "too_many_attempts"
    assert locked.headers["retry-after"] == "1"


def test_each_lock_is_twice_as_long(api: TestClient, clock) -> None:  # type: ignore[no-untyped-def]
    email = _signup(api)
    for _ in range(6):  # 5 free, the 6th is checked and locks the account for 1 s
        assert _login(api, email, WRONG).status_code == 401
    for wait in (2, 4, 8):  # after each lock, one more guess, and a longer lock
        clock["by"] += timedelta(seconds=wait // 2 + 0.1)
        assert _login(api, email, WRONG).status_code == 401
        answer = _login(api, email, WRONG)
        assert answer.status_code == 429 and answer.headers["retry-after"] == str(wait)
    clock["by"] += timedelta(seconds=8.1)
    assert _login(api, email, TEST_PASSWORD).status_code == 200
    assert _login(api, email, WRONG).status_code == 401  # the slate is clean (not 429)


def test_the_backoff_is_capped_and_forgotten_after_the_window(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    capped = settings.model_copy(update={"login_backoff_max_seconds": 5})
    with TestClient(create_app(capped, configure_logging=False)) as api:
        email = _signup(api)
        for _ in range(9):  # locks of 1, 2, 4, then 5 (not 8) seconds
            _login(api, email, WRONG)
            clock["by"] += timedelta(seconds=6)
        assert _login(api, email, WRONG).status_code == 401
        assert _login(api, email, WRONG).headers["retry-after"] == "5"
        clock["by"] += timedelta(seconds=settings.login_window_seconds + 1)
        assert _login(api, email, TEST_PASSWORD).status_code == 200


def test_unknown_addresses_answer_exactly_like_accounts(api: TestClient, clock) -> None:  # type: ignore[no-untyped-def]
    """No user enumeration: the sequence of answers does not tell whether the account exists."""
    answers = []
    for email in (_signup(api), f"nobody-{uuid.uuid4().hex[:10]}@example.com"):
        seq = [_login(api, email, WRONG) for _ in range(8)]
        answers.append([(r.status_code, r.json(), r.headers.get("retry-after")) for r in seq])
    assert answers[0] == answers[1]
    assert [status for status, _, _ in answers[0]] == [401] * 6 + [429] * 2


def test_the_current_password_of_a_stolen_session_is_throttled_too(api: TestClient, clock) -> None:  # type: ignore[no-untyped-def]
    email = f"lock-{uuid.uuid4().hex[:10]}@example.com"
    resp = api.post("/api/auth/signup", json={"email": email, "password": TEST_PASSWORD})
    stolen = bearer(resp)
    api.cookies.clear()
    change = {"current_password": WRONG, "new_password": "a brand new passphrase"}
    codes = [
        api.post("/api/me/password", json=change, headers=stolen).status_code for _ in range(7)
    ]
    assert codes == [403] * 6 + [429]
    assert _login(api, email, TEST_PASSWORD).status_code == 429  # the same account's counter


def test_the_table_is_bounded_and_holds_no_address(
    api: TestClient, settings: Settings, clock
) -> None:  # type: ignore[no-untyped-def]
    from streamapp import lockout

    emails = [f"spray-{uuid.uuid4().hex[:10]}@example.com" for _ in range(5)]
    for email in emails:
        _login(api, email, WRONG)
    with db.engine(settings).connect() as conn:
        keys = set(conn.execute(text("SELECT key FROM login_attempts")).scalars())
    assert {lockout._key(e) for e in emails} <= keys
    assert not any("@" in key for key in keys)
    # Once the window has passed, attempts sweep the old rows out.
    clock["by"] += timedelta(seconds=settings.login_window_seconds + 1)
    _login(api, f"later-{uuid.uuid4().hex[:10]}@example.com", WRONG)
    with db.engine(settings).connect() as conn:
        left = set(conn.execute(text("SELECT key FROM login_attempts")).scalars())
    assert not {lockout._key(e) for e in emails} & left

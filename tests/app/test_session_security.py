"""Issue 16, item 12: the session token only in the HttpOnly cookie, an idle timeout besides
the absolute lifetime, password change (with the current password; other sessions end) and
sign-out everywhere (every session ends, in every process: the state is in DynamoDB)."""

from __future__ import annotations

import time
import types
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from streamapp import sessions
from streamapp.app import create_app
from streamapp.config import Settings

from tests.app.conftest import TEST_PASSWORD, bearer

COOKIE = "streamapp_session"


def _app(settings: Settings, **update: object) -> TestClient:
    # No in-process session cache: every request asks DynamoDB, as another process would.
    values = {"session_cache_seconds": 0, **update}
    return TestClient(create_app(settings.model_copy(update=values), configure_logging=False))


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with _app(settings) as client:
        yield client


def _signup(api: TestClient, password: str = TEST_PASSWORD) -> tuple[str, dict[str, str]]:
    email = f"s-{uuid.uuid4().hex[:10]}@example.com"
    resp = api.post("/api/auth/signup", json={"email": email, "password": password})
    assert resp.status_code == 201, resp.text
    api.cookies.clear()
    return email, bearer(resp)


def _login(api: TestClient, email: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    resp = api.post("/api/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    api.cookies.clear()
    return bearer(resp)


def test_the_token_is_only_in_the_http_only_cookie(api: TestClient) -> None:
    """A script on the page (an XSS) can read a JSON body, not an HttpOnly cookie."""
    email = f"s-{uuid.uuid4().hex[:10]}@example.com"
    for path, status in (("/api/auth/signup", 201), ("/api/auth/login", 200)):
        resp = api.post(path, json={"email": email, "password": TEST_PASSWORD})
        assert resp.status_code == status, resp.text
        token = resp.cookies[COOKIE]
        assert "token" not in resp.json() and token not in resp.text
        assert "httponly" in resp.headers["set-cookie"].lower()
        assert set(resp.json()) == {"expires_at", "user"}
        api.cookies.clear()


def _clock(monkeypatch: pytest.MonkeyPatch, start: float) -> types.SimpleNamespace:
    """The session module's clock, moved by the test (time.time elsewhere is untouched)."""
    clock = types.SimpleNamespace(now=start, time=lambda: clock.now, sleep=time.sleep)
    monkeypatch.setattr(sessions, "time", clock)
    return clock


def test_an_unused_session_ends_after_the_idle_timeout(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _app(settings, session_idle_seconds=60, session_ttl_seconds=600) as api:
        clock = _clock(monkeypatch, time.time())
        start = clock.now
        _, headers = _signup(api)
        # In use: each request within the idle time moves the deadline on.
        for seconds in (30, 85, 140):
            clock.now = start + seconds
            assert api.get("/api/me", headers=headers).status_code == 200, seconds
        clock.now = start + 140 + 61  # unused for longer than the idle timeout
        assert api.get("/api/me", headers=headers).status_code == 401
        # Used without pause, a session still ends at its absolute lifetime.
        clock.now = start
        _, headers = _signup(api)
        for seconds in range(50, 600, 50):
            clock.now = start + seconds
            assert api.get("/api/me", headers=headers).status_code == 200, seconds
        clock.now = start + 601
        assert api.get("/api/me", headers=headers).status_code == 401


def test_sign_out_everywhere_ends_every_session(api: TestClient, settings: Settings) -> None:
    email, phone = _signup(api)
    laptop = _login(api, email)
    with TestClient(create_app(settings, configure_logging=False)) as cached:
        # Another process with the session cache: it has seen the sessions.
        assert cached.get("/api/me", headers=laptop).status_code == 200
        resp = api.post("/api/auth/logout-everywhere", headers=phone)
        assert resp.status_code == 204
        assert resp.headers["set-cookie"].lower().startswith(f'{COOKIE}=""; ')
        assert "max-age=0" in resp.headers["set-cookie"].lower()
        for headers in (phone, laptop):
            assert api.get("/api/me", headers=headers).status_code == 401
        time.sleep(settings.session_cache_seconds + 0.5)  # its cache entry runs out
        assert cached.get("/api/me", headers=laptop).status_code == 401
    assert api.get("/api/me", headers=_login(api, email)).status_code == 200  # signing in works


def test_password_change_needs_the_current_password_and_ends_other_sessions(
    api: TestClient,
) -> None:
    email, here = _signup(api)
    stolen = _login(api, email)  # e.g. a session an attacker holds
    new = "a brand new passphrase"
    wrong = {"current_password": "not my password", "new_password": new}
    resp = api.post("/api/me/password", json=wrong, headers=here)
    assert resp.status_code == 403 and resp.json()["code"] == "wrong_password"
    assert api.get("/api/me", headers=stolen).status_code == 200  # nothing changed
    # The attacker's session cannot change it without the password either.
    assert api.post("/api/me/password", json=wrong, headers=stolen).status_code == 403

    body = {"current_password": TEST_PASSWORD, "new_password": new}
    resp = api.post("/api/me/password", json=body, headers=here)
    assert resp.status_code == 200, resp.text
    fresh = bearer(resp)  # a new session for this browser, in its cookie
    api.cookies.clear()
    assert api.get("/api/me", headers=fresh).json()["email"] == email
    assert api.get("/api/me", headers=stolen).status_code == 401
    assert api.get("/api/me", headers=here).status_code == 401
    old = api.post("/api/auth/login", json={"email": email, "password": TEST_PASSWORD})
    assert old.status_code == 401
    assert api.get("/api/me", headers=_login(api, email, new)).status_code == 200


def test_a_token_naming_another_user_is_refused(api: TestClient) -> None:
    _, mine = _signup(api)
    _, theirs = _signup(api)
    token = mine["Authorization"].removeprefix("Bearer ")
    their_id = theirs["Authorization"].removeprefix("Bearer ").split(".", 1)[0]
    forged = f"{their_id}.{token.split('.', 1)[1]}"
    assert api.get("/api/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401

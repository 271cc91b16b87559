"""Issue 16, item 11: state-changing requests that a browser sends from another site or
origin are refused (Sec-Fetch-Site, else Origin), whatever cookie they carry; the app's own
pages, and clients that are not browsers, go on working. Over HTTP through a real nginx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import TEST_PASSWORD, Media, admin_auth

# What Chromium sends from a page of another site, or another origin of the same site (a
# sibling subdomain, another port), or what an older browser sends (Origin only).
ATTACKS = {
    "cross-site": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    "same-site": {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
    "origin only": {"Origin": "https://evil.example"},
    "opaque origin": {"Origin": "null"},
}


@pytest.fixture
def victim(behind_nginx: str) -> Iterator[httpx.Client]:
    """A signed-in user's browser profile: the session cookie rides on every request."""
    with httpx.Client(base_url=behind_nginx, timeout=60) as browser:
        email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
        resp = browser.post("/api/auth/signup", json={"email": email, "password": TEST_PASSWORD})
        assert resp.status_code == 201, resp.text
        assert browser.cookies.get("streamapp_session")
        yield browser


def _prefs(browser: httpx.Client) -> dict:
    resp = browser.get("/api/me/preferences")
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("attack", ATTACKS)
def test_cross_site_state_changes_are_refused(victim: httpx.Client, attack: str) -> None:
    before = _prefs(victim)
    forged = {"preferred_quality": "144p", "autoplay": False, "preferred_kind": "audio"}
    resp = victim.put("/api/me/preferences", json=forged, headers=ATTACKS[attack])
    assert resp.status_code == 403, resp.text
    assert resp.json()["code"] == "cross_site_request"
    assert _prefs(victim) == before
    # A form post from the other page logs the victim out (or in as the attacker): refused.
    assert victim.post("/api/auth/logout", headers=ATTACKS[attack]).status_code == 403
    assert victim.get("/api/me").status_code == 200


def test_login_from_another_site_is_refused(behind_nginx: str) -> None:
    """Login CSRF: the attacker's page signs the victim's browser into the attacker's account
    (whose uploads and history it then reads)."""
    with httpx.Client(base_url=behind_nginx, timeout=60) as browser:
        email = f"attacker-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": TEST_PASSWORD}
        assert browser.post("/api/auth/signup", json=body).status_code == 201
        browser.cookies.clear()
        resp = browser.post("/api/auth/login", json=body, headers=ATTACKS["cross-site"])
        assert resp.status_code == 403 and "set-cookie" not in resp.headers


def test_upload_from_a_same_site_page_is_refused(
    behind_nginx: str, client, media: Media, state
) -> None:  # type: ignore[no-untyped-def]
    """multipart/form-data needs no CORS preflight: a page on another port of the same host
    (same site: the Lax cookie goes along) could upload as the victim."""
    admin = admin_auth(client)
    with httpx.Client(base_url=behind_nginx, timeout=60) as browser:
        email = f"uploader-{uuid.uuid4().hex[:8]}@example.com"
        resp = browser.post("/api/auth/signup", json={"email": email, "password": TEST_PASSWORD})
        user_id = resp.json()["user"]["id"]
        role = {"role": "uploader"}
        assert client.put(f"/api/admin/users/{user_id}/role", json=role, headers=admin).is_success
        before = state()
        with Path(media.song).open("rb") as fh:
            resp = browser.post(
                "/api/items",
                files={"file": ("song.mp3", fh, "audio/mpeg")},
                data={"title": "forged"},
                headers=ATTACKS["same-site"],
            )
        assert resp.status_code == 403, resp.text
        assert state() == before


def test_the_apps_own_pages_and_other_clients_still_work(victim: httpx.Client) -> None:
    base = str(victim.base_url).rstrip("/")
    own = {
        "same-origin fetch": {"Sec-Fetch-Site": "same-origin", "Origin": base},
        "older browser": {"Origin": base},
        "typed by the user": {"Sec-Fetch-Site": "none"},
        "curl or a script": {},
    }
    for quality, headers in zip(("240p", "144p", "auto", "a96k"), own.values(), strict=True):
        body = {"preferred_quality": quality, "autoplay": True}
        resp = victim.put("/api/me/preferences", json=body, headers=headers)
        assert resp.status_code == 200, (headers, resp.text)
        assert _prefs(victim)["preferred_quality"] == quality
    # Reading is not a state change: another site's GET is answered (CORS keeps it unreadable).
    assert victim.get("/api/me", headers=ATTACKS["cross-site"]).status_code == 200

"""Issue 16, item 6: nobody becomes an admin by signing up (the address is never verified);
an operator promotes an existing account with ``streamapp-admin promote`` on a host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from fastapi.testclient import TestClient
from streamapp.app import create_app
from streamapp.config import Settings

from tests.app.conftest import TEST_PASSWORD, bearer


def test_signing_up_with_an_admin_address_gives_no_admin(settings: Settings) -> None:
    """A deployment that still sets STREAMAPP_ADMIN_EMAILS: whoever signs up first with such an
    address (nobody checks they own it) got the admin role."""
    boss = f"boss-{uuid.uuid4().hex[:8]}@example.com"
    old = settings.model_copy(update={"admin_emails": boss})
    with TestClient(create_app(old, configure_logging=False)) as api:
        resp = api.post("/api/auth/signup", json={"email": boss, "password": TEST_PASSWORD})
        assert resp.status_code == 201, resp.text
        assert resp.json()["user"]["role"] == "viewer"
        api.cookies.clear()
        me = resp.json()["user"]["id"]
        grab = api.put(f"/api/admin/users/{me}/role", json={"role": "admin"}, headers=bearer(resp))
        assert grab.status_code == 403


def _admin(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m streamapp.admin`` with the app's settings in its environment, as the host's
    wrapper gives it the environment file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMAPP_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"STREAMAPP_{name.upper()}"] = str(value)
    return subprocess.run(
        [sys.executable, "-m", "streamapp.admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_operator_promotes_an_existing_account(client: TestClient, settings: Settings) -> None:
    email = f"op-{uuid.uuid4().hex[:8]}@example.com"
    resp = client.post("/api/auth/signup", json={"email": email, "password": TEST_PASSWORD})
    headers, user = bearer(resp), resp.json()["user"]
    client.cookies.clear()
    other = client.post(
        "/api/auth/signup", json={"email": f"x-{email}", "password": TEST_PASSWORD}
    ).json()["user"]
    client.cookies.clear()

    done = _admin(settings, "promote", email.upper())  # addresses are matched case-insensitively
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"email": email, "role": "admin", "changed": True}
    again = _admin(settings, "promote", email)
    assert json.loads(again.stdout)["changed"] is False
    # The session the user already had is an admin's now (the role is read on each request).
    role = {"role": "uploader"}
    assert client.put(f"/api/admin/users/{other['id']}/role", json=role, headers=headers).is_success
    assert client.get("/api/me", headers=headers).json()["role"] == "admin"

    missing = _admin(settings, "promote", f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    assert missing.returncode == 1 and "no account" in missing.stderr
    back = _admin(settings, "promote", email, "--role", "viewer")
    assert json.loads(back.stdout) == {"email": email, "role": "viewer", "changed": True}
    assert client.get("/api/me", headers=headers).json()["role"] == user["role"] == "viewer"

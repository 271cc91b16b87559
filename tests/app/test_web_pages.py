"""The web UI's server side without a browser: page shells, headers, static files, vendoring.

The browser tests (tests/ui/) prove the pages work; these pin the contract cheaply.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from streamapp.config import Settings
from streamapp.web import STATIC_DIR, content_security_policy

from tests.app.conftest import signup

APP_WEB = Path(__file__).resolve().parents[2] / "app" / "web"


@pytest.mark.parametrize("path", ["/", "/login", "/signup"])
def test_public_pages_are_shells_with_a_strict_csp(client: TestClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["x-frame-options"] == "DENY"
    # Scripts only by URL from our own origin, never inline.
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", resp.text, re.S)
    assert scripts and all('src="/static/' in attrs and not body for attrs, body in scripts)
    assert 'data-user="null"' in resp.text


@pytest.mark.parametrize("path", ["/upload", "/history", "/preferences"])
def test_private_pages_send_visitors_to_log_in(client: TestClient, path: str) -> None:
    client.cookies.clear()
    resp = client.get(path, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/login?next=%2F{path[1:]}"


def test_signed_in_shell_names_the_user_without_secrets(client: TestClient) -> None:
    headers, user = signup(client)
    resp = client.get("/history", headers=headers)
    assert resp.status_code == 200
    shell_user = re.search(r'data-user="([^"]*)"', resp.text)
    assert shell_user
    data = json.loads(shell_user.group(1).replace("&quot;", '"'))
    assert data == {
        "id": user["id"],
        "email": user["email"],
        "display_name": user["display_name"],
        "role": "viewer",
    }
    token = headers["Authorization"].split()[1]
    assert token not in resp.text  # the session stays in the HttpOnly cookie / header
    assert client.get("/login", headers=headers, follow_redirects=False).status_code == 303


def test_watch_page_carries_the_item_id(client: TestClient) -> None:
    headers, _ = signup(client)
    item_id = "0b6f6f1e-5a43-4d3c-9d3e-2f1f4c1c9a10"
    resp = client.get(f"/watch/{item_id}", headers=headers)
    assert resp.status_code == 200 and f'data-item-id="{item_id}"' in resp.text
    anon = TestClient(client.app)
    resp = anon.get(f"/watch/{item_id}", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next=")


def test_static_files_and_vendored_hls(client: TestClient) -> None:
    for path in ("/static/app.js", "/static/player.js", "/static/style.css"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.headers["cache-control"] == "no-cache"
    vendored = client.get("/static/vendor/hls/hls.min.mjs")
    assert vendored.status_code == 200
    assert vendored.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/vendor/hls/hls.worker.js").status_code == 200
    assert client.get("/static/../config.py").status_code == 404
    # The vendored copy is the version package-lock.json pins (app/web/vendor.sh made it).
    lock = json.loads((APP_WEB / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/hls.js"]["version"]
    assert (STATIC_DIR / "vendor" / "hls" / "VERSION").read_text().strip() == pinned
    assert json.loads((APP_WEB / "package.json").read_text())["dependencies"]["hls.js"] == pinned


def test_api_schema_leaves_the_pages_out(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # the schema itself is internal (test_ops_endpoints)
    assert all(p.startswith(("/api/", "/healthz", "/readyz", "/metrics")) for p in paths)


def test_csp_allows_the_signed_media_origin(settings: Settings) -> None:
    local = settings.model_copy(update={"public_media_base_url": "https://media.example.com/x"})
    csp = content_security_policy(local)
    assert "media-src 'self' blob: https://media.example.com;" in csp
    assert "connect-src 'self' https://media.example.com;" in csp
    cloudfront = settings.model_copy(
        update={"signing_mode": "cloudfront", "cloudfront_domain": "d111.cloudfront.net"}
    )
    assert "https://d111.cloudfront.net" in content_security_policy(cloudfront)
    # The local Elastic Beanstalk stand-in's edge: the plain-HTTP loopback base the app signs for.
    standin = cloudfront.model_copy(update={"cloudfront_domain": "http://127.0.0.1:5000"})
    assert "connect-src 'self' http://127.0.0.1:5000;" in content_security_policy(standin)

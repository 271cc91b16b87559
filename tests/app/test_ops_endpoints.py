"""Issue 16, item 10: the operations endpoints (/metrics, /docs, /redoc, /openapi.json) are
not public, and /readyz names a failed dependency without its error text."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from streamapp.app import create_app
from streamapp.config import Settings

OPS_PATHS = ("/metrics", "/docs", "/redoc", "/openapi.json")
ON_THE_HOST = ("127.0.0.1", 40000)  # a request made on the host itself, to the app's port


@pytest.mark.parametrize("path", OPS_PATHS)
def test_ops_endpoints_are_not_served_through_the_proxy(behind_nginx: str, path: str) -> None:
    """What the load balancer forwards arrives through nginx: the default refuses it."""
    with httpx.Client(base_url=behind_nginx, timeout=30) as http:
        # Whatever a client claims about itself.
        for headers in ({}, {"X-Forwarded-For": "127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}):
            resp = http.get(path, headers=headers)
            assert resp.status_code == 404, (path, headers, resp.text[:200])
            assert resp.json() == {"code": "not_found", "message": "Not Found"}
        assert http.get("/healthz").status_code == 200


def test_ops_endpoints_serve_requests_made_on_the_host(settings: Settings) -> None:
    app = create_app(settings, configure_logging=False)
    with TestClient(app, client=ON_THE_HOST) as local:
        assert local.get("/metrics").status_code == 200
        assert local.get("/openapi.json").json()["info"]["title"] == "StreamStack API"
        assert local.get("/docs").status_code == 200
        # Through a proxy on the same host: not internal.
        assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    with TestClient(app) as remote:  # another address
        assert remote.get("/metrics").status_code == 404


def test_ops_endpoints_off_and_public(settings: Settings) -> None:
    off = create_app(settings.model_copy(update={"ops_endpoints": "off"}), configure_logging=False)
    with TestClient(off, client=ON_THE_HOST) as local:
        assert all(local.get(path).status_code == 404 for path in OPS_PATHS)
    public = settings.model_copy(update={"ops_endpoints": "public"})
    with TestClient(create_app(public, configure_logging=False)) as remote:
        assert all(remote.get(path).status_code == 200 for path in OPS_PATHS)


def test_readyz_names_the_failed_dependency_but_not_its_error(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Errors carry hostnames, account ids and ARNs; the answer says only what failed."""
    broken = settings.model_copy(
        update={
            "database_url": "postgresql+psycopg://streamapp@db-7.secret-cluster.invalid:5432/x",
            "media_bucket": "no-such-bucket-123456789012",
        }
    )
    app = create_app(broken, configure_logging=False)
    with TestClient(app) as c, caplog.at_level("WARNING", logger="streamapp.health"):
        ready = c.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == {"ok": False} and checks["s3"] == {"ok": False}
    assert checks["dynamodb"]["ok"] and checks["sqs"]["ok"]
    for secret in ("secret-cluster", "123456789012", "Error", "psycopg", "botocore"):
        assert secret not in ready.text
    # The operator still finds the reason in the log.
    logged = " ".join(str(getattr(r, "error", "")) for r in caplog.records)
    assert "secret-cluster" in logged and "NoSuchBucket" in logged

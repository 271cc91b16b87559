"""/healthz and /readyz, and recovery when the database comes back by itself."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from streamapp import db
from streamapp.app import create_app
from streamapp.config import Settings

from local.postgres import Postgres


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"database", "dynamodb", "s3", "sqs"}


def test_database_down_then_back(client: TestClient, postgres: Postgres) -> None:
    assert client.get("/api/items").status_code == 200  # the pool holds live connections
    postgres.stop()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert not checks["database"]["ok"] and checks["s3"]["ok"] and checks["sqs"]["ok"]
        down = client.get("/api/items")
        assert down.status_code == 503 and down.json()["code"] == "database_unavailable"
        assert client.get("/healthz").status_code == 200  # liveness does not depend on it
    finally:
        postgres.start()
    deadline = time.monotonic() + 30
    status = 0
    while time.monotonic() < deadline:
        status = client.get("/readyz").status_code
        if status == 200:
            break
        time.sleep(0.5)
    assert status == 200
    assert client.get("/api/items").status_code == 200


def test_aws_down_is_503(settings: Settings) -> None:
    broken = settings.model_copy(update={"media_bucket": "no-such-bucket-anywhere"})
    with TestClient(create_app(broken, configure_logging=False)) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert not ready.json()["checks"]["s3"]["ok"]


def test_metrics_count_requests(client: TestClient) -> None:
    client.get("/healthz")
    with TestClient(client.app, client=("127.0.0.1", 40000)) as local:  # on the host
        local.get("/healthz")
        text = local.get("/metrics").text
    assert 'streamapp_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "streamapp_http_request_duration_seconds_bucket" in text


def test_connections_the_server_closed_are_replaced_at_checkout(
    client: TestClient, settings: Settings
) -> None:
    """No ping per checkout, yet a pooled connection whose backend the server terminated is
    noticed (its socket turns readable) and replaced before a request uses it: no 503."""
    for _ in range(3):
        assert client.get("/api/items").status_code == 200  # the pool holds live connections
    # From a connection of its own, outside the app's pool.
    outside = create_engine(db.database_url(settings), poolclass=NullPool)
    with outside.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND usename = current_user"
                " AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    assert killed >= 1
    time.sleep(0.5)  # the server's goodbye reaches the pooled sockets
    for _ in range(3):
        resp = client.get("/api/items")
        assert resp.status_code == 200, resp.text

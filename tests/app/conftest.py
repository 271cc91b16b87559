"""Fixtures of the app server's tests: its AWS resources in the emulator, a migrated database,
an in-process API client, a worker, generated media and a real nginx for signed URLs."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from streamapp import db
from streamapp.app import create_app
from streamapp.aws import reset_clients
from streamapp.config import Settings
from streamapp.migrate import AdminCredentials, upgrade
from streamapp.models import Role
from streamapp.worker import Worker

from local.app_resources import AppResources, create_app_resources
from local.emulator import Emulator
from local.postgres import DB_NAME, DB_PASSWORD, DB_USER, Postgres

SIGNING_SECRET = "test-secure-link-secret"
MAX_ATTEMPTS = 2
TEST_PASSWORD = "correct horse 42"
# The app logs in as its own DML-only user, as on a host (streamapp.dbroles); the harness's
# master user keeps the roles and migrates, as the migration step does on a host.
APP_DB_USER = "streamapp_app_user"
APP_DB_PASSWORD = "streamapp-app-test-password"
MASTER = AdminCredentials(DB_USER, DB_PASSWORD)


def database_settings(postgres: Postgres, database: str = DB_NAME) -> dict[str, Any]:
    """The app's database settings, as a host's: its own user, TLS verified against the
    cluster's CA (the stand-in for the RDS CA bundle)."""
    return {
        "database_url": postgres.url(database=database, user=APP_DB_USER, password=None),
        "database_password": APP_DB_PASSWORD,
        "database_sslmode": "verify-full",
        "database_sslrootcert": str(postgres.ca_file),
    }


def migrate(settings: Settings) -> list[str]:
    """The host's migration step: roles and privileges kept by the master user, the schema
    migrated as the owner role."""
    return upgrade(settings, admin=MASTER)


@pytest.fixture(scope="session")
def app_resources(aws: Callable[..., Any]) -> AppResources:
    """What the provisioning playbooks create for the app, made here with boto3."""
    suffix = uuid.uuid4().hex[:8]
    return create_app_resources(
        aws,
        lambda kind: f"stream-test-{kind}-{suffix}",
        "eu-west-1",
        max_receive_count=MAX_ATTEMPTS,
        visibility_timeout=60,
    )


def make_settings(
    emulator: Emulator, postgres: Postgres, res: AppResources, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        **database_settings(postgres),
        "aws_endpoint_url": emulator.endpoint,
        "aws_region": emulator.region,
        "media_bucket": res.bucket,
        "sessions_table": res.table,
        "jobs_queue_url": res.queue_url,
        "jobs_dlq_url": res.dlq_url,
        "signing_mode": "local",
        "signing_secret": SIGNING_SECRET,
        "public_media_base_url": "http://media.test",
        "video_rungs": "240:400,144:200",  # two small rungs keep CI fast
        "audio_rungs": "96,48",
        "hls_segment_seconds": 2,
        "worker_wait_seconds": 1,
        "worker_visibility_timeout": 30,
        "job_max_attempts": MAX_ATTEMPTS,
        "retry_delay_seconds": 0,
        "max_upload_bytes": 5 * 1024 * 1024,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(emulator: Emulator, postgres: Postgres, app_resources: AppResources) -> Settings:
    reset_clients()
    s = make_settings(emulator, postgres, app_resources)
    migrate(s)
    return s


@pytest.fixture(scope="session")
def app(settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(settings, configure_logging=False)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # raise_server_exceptions=False: a 500 must show up as a response the test can assert on.
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def behind_nginx(
    app,  # type: ignore[no-untyped-def]
    emulator: Emulator,
    aws,  # type: ignore[no-untyped-def]
    app_resources: AppResources,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The session's app served over HTTP by uvicorn (proxy headers from 127.0.0.1 trusted, as
    the API unit's gunicorn does) behind a real nginx (tests/app/nginx.py): the base URL of
    nginx, where requests arrive as they do in production."""
    import threading

    import uvicorn

    from tests.app import nginx

    port = nginx.free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    proxy = nginx.start(
        tmp_path_factory.mktemp("nginx-app"),
        nginx.publish_media(aws, app_resources.bucket),
        SIGNING_SECRET,
        app_upstream=f"http://127.0.0.1:{port}",
    )
    try:
        yield proxy.base_url
    finally:
        proxy.stop()
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def run_worker(settings: Settings) -> Callable[..., int]:
    """Drain the job queue in-process (bounded), like `streamapp-worker --exit-when-idle`."""

    def run(max_jobs: int = 10, **overrides: Any) -> int:
        worker_settings = settings.model_copy(update=overrides) if overrides else settings
        return Worker(worker_settings).run(max_jobs=max_jobs, exit_when_idle=True)

    return run


# -- accounts ------------------------------------------------------------------------------
def bearer(resp) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Auth headers with the session a signup/login response set in its cookie (the only
    place it is: never in the body)."""
    token = resp.cookies.get("streamapp_session")
    assert token, resp.text
    return {"Authorization": f"Bearer {token}"}


def signup(client: TestClient, email: str | None = None, password: str = TEST_PASSWORD):  # type: ignore[no-untyped-def]
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    resp = client.post("/api/auth/signup", json={"email": email, "password": password})
    assert resp.status_code == 201, resp.text
    client.cookies.clear()  # callers pass the token explicitly: several users per test
    return bearer(resp), resp.json()["user"]


@pytest.fixture(scope="session")
def uploader(client: TestClient) -> dict[str, str]:
    """Auth headers of a fresh user promoted to uploader by the admin."""
    admin_headers = admin_auth(client)
    headers, user = signup(client)
    resp = client.put(
        f"/api/admin/users/{user['id']}/role", json={"role": "uploader"}, headers=admin_headers
    )
    assert resp.status_code == 200, resp.text
    return headers


def admin_auth(client: TestClient) -> dict[str, str]:
    """Auth headers of the suite's admin: signed up once, then promoted as an operator does
    (streamapp-admin's own function; tests/app/test_admin.py runs the command itself)."""
    from streamapp.admin import set_role

    resp = client.post(
        "/api/auth/login", json={"email": "admin@example.com", "password": "admin password 1"}
    )
    if resp.status_code == 401:
        headers, user = signup(client, "admin@example.com", "admin password 1")
        assert user["role"] == "viewer"
        set_role(client.app.state.settings, user["email"], Role.admin)
        return headers
    client.cookies.clear()
    return bearer(resp)


# -- media -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Media:
    video: Path
    song: Path
    silent_video: Path


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True, timeout=60)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Short media made by ffmpeg's lavfi sources: 4 s 320x240 video with a tone, a 4 s song."""
    d = tmp_path_factory.mktemp("media")
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=4",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-shortest",
        str(d / "video.mp4"),
    )
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:duration=4",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "96k",
        str(d / "song.mp3"),
    )
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=256x144:rate=25:duration=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(d / "silent.mp4"),
    )
    return Media(d / "video.mp4", d / "song.mp3", d / "silent.mp4")


# -- state probes for "nothing half-made" assertions ---------------------------------------------
@dataclass
class State:
    items: int
    objects: int
    messages: int


@pytest.fixture
def state(settings: Settings, aws: Callable[..., Any]) -> Callable[[], State]:
    def snapshot() -> State:
        with db.engine(settings).connect() as conn:
            items = conn.execute(text("SELECT count(*) FROM media_items")).scalar_one()
        objects = aws("s3").list_objects_v2(Bucket=settings.media_bucket).get("KeyCount", 0)
        attrs = aws("sqs").get_queue_attributes(
            QueueUrl=settings.jobs_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        messages = int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )
        return State(int(items), int(objects), messages)

    return snapshot


@dataclass(frozen=True)
class ReadyItems:
    video: dict[str, Any]
    song: dict[str, Any]
    headers: dict[str, str]


def upload(
    client: TestClient,
    headers: dict[str, str],
    path: Path,
    title: str,
    content_type: str = "application/octet-stream",
    **form: str,
):  # type: ignore[no-untyped-def]
    with path.open("rb") as fh:
        return client.post(
            "/api/items",
            headers=headers,
            files={"file": (path.name, fh, content_type)},
            data={"title": title, **form},
        )


@pytest.fixture(scope="session")
def ready_items(
    client: TestClient, uploader: dict[str, str], media: Media, run_worker: Callable[..., int]
) -> ReadyItems:
    """A video and a song uploaded and transcoded by a worker: the end-to-end path, shared."""
    video = upload(
        client,
        uploader,
        media.video,
        "Test pattern",
        "video/mp4",
        description="lavfi testsrc2 with a 440 Hz tone",
    )
    assert video.status_code == 201, video.text
    song = upload(client, uploader, media.song, "Sine song", "audio/mpeg")
    assert song.status_code == 201, song.text
    assert run_worker(max_jobs=4) >= 2
    out = {}
    for name, resp in (("video", video), ("song", song)):
        got = client.get(f"/api/items/{resp.json()['id']}", headers=uploader)
        assert got.status_code == 200
        out[name] = got.json()
    return ReadyItems(out["video"], out["song"], uploader)


@pytest.fixture(scope="session")
def api_schema(settings: Settings):  # type: ignore[no-untyped-def]
    import schemathesis

    # The schema is internal by default (ops_endpoints); this app serves it to the fuzzer.
    public = settings.model_copy(update={"ops_endpoints": "public"})
    return schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(public, configure_logging=False)
    )


@pytest.fixture(scope="session")
def fuzz_auth(client: TestClient) -> dict[str, str]:
    """The fuzzer acts as an admin: it reaches every code path behind the auth checks."""
    return admin_auth(client)

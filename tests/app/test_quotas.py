"""Issue 16, item 8 (the app's part): per-user upload and retry quotas. Each upload costs a
probe, storage and a transcoding job, each retry another job: one account must not be able to
make the platform do that without bound. Refusals leave nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from streamapp import db
from streamapp.admin import set_role
from streamapp.app import create_app
from streamapp.config import Settings
from streamapp.models import Role

from tests.app.conftest import Media, State, signup, upload


def _api(settings: Settings, **quotas: int) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=quotas), configure_logging=False))


def _uploader(api: TestClient, settings: Settings) -> dict[str, str]:
    headers, user = signup(api)
    set_role(settings, user["email"], Role.uploader)
    return headers


@pytest.fixture
def queue_drained(run_worker: Callable[..., int]) -> Iterator[None]:
    yield
    run_worker(max_jobs=10)  # the jobs these tests queued: not left for other tests


def _song(api: TestClient, headers: dict[str, str], media: Media, title: str = "quota song"):  # type: ignore[no-untyped-def]
    return upload(api, headers, media.song, title, "audio/mpeg")


def test_uploads_per_day_are_limited_and_deleting_gives_none_back(
    settings: Settings, media: Media, state: Callable[[], State], queue_drained: None
) -> None:
    with _api(settings, uploads_per_day=2) as api:
        headers = _uploader(api, settings)
        first = _song(api, headers, media)
        assert first.status_code == 201, first.text
        assert _song(api, headers, media).status_code == 201
        before = state()
        third = _song(api, headers, media)
        assert third.status_code == 429, third.text
        assert third.json()["code"] == "upload_quota_exceeded"
        assert 0 < int(third.headers["retry-after"]) <= 24 * 3600
        assert state() == before  # nothing stored, catalogued or queued
        # Upload, delete, upload again: the work was done, the quota stays used.
        assert api.delete(f"/api/items/{first.json()['id']}", headers=headers).status_code == 204
        assert _song(api, headers, media).status_code == 429
        # Another uploader has a quota of their own.
        assert _song(api, _uploader(api, settings), media).status_code == 201


def test_upload_bytes_per_day_are_limited(
    settings: Settings, media: Media, queue_drained: None
) -> None:
    size = media.song.stat().st_size
    with _api(settings, upload_bytes_per_day=int(size * 1.5)) as api:
        headers = _uploader(api, settings)
        assert _song(api, headers, media).status_code == 201
        refused = _song(api, headers, media)
        assert refused.status_code == 429 and refused.json()["code"] == "upload_quota_exceeded"


def test_the_quota_window_is_24_hours(
    settings: Settings, media: Media, monkeypatch: pytest.MonkeyPatch, queue_drained: None
) -> None:
    from streamapp import quotas

    with _api(settings, uploads_per_day=1) as api:
        headers = _uploader(api, settings)
        assert _song(api, headers, media).status_code == 201
        assert _song(api, headers, media).status_code == 429
        later = quotas._now() + timedelta(days=1, seconds=1)
        monkeypatch.setattr(quotas, "_now", lambda: later)
        assert _song(api, headers, media).status_code == 201
        # The user's events that left the window were dropped: a day at most is kept.
        me = uuid.UUID(api.get("/api/me", headers=headers).json()["id"])
        with db.engine(settings).connect() as conn:
            kept = conn.execute(
                text("SELECT count(*) FROM quota_events WHERE user_id = :me AND at < :cutoff"),
                {"me": me, "cutoff": later - timedelta(days=1)},
            ).scalar_one()
        assert kept == 0


def _fail(settings: Settings, item_id: str) -> None:
    """As the worker leaves an item whose last attempt failed."""
    with db.engine(settings).begin() as conn:
        conn.execute(
            text("UPDATE media_items SET status = 'failed', failure_reason = 'x' WHERE id = :id"),
            {"id": uuid.UUID(item_id)},
        )


def _retry(api: TestClient, headers: dict[str, str], item_id: str) -> Any:
    return api.post(f"/api/items/{item_id}/retry", headers=headers)


def test_retries_are_limited_per_item_and_per_day(
    settings: Settings, media: Media, queue_drained: None
) -> None:
    with _api(settings, retries_per_item=2, retries_per_day=3) as api:
        headers = _uploader(api, settings)
        one = _song(api, headers, media, "retry one").json()["id"]
        two = _song(api, headers, media, "retry two").json()["id"]
        for _ in range(2):
            _fail(settings, one)
            assert _retry(api, headers, one).status_code == 200
        _fail(settings, one)
        limit = _retry(api, headers, one)
        assert limit.status_code == 409 and limit.json()["code"] == "retry_limit"
        _fail(settings, two)
        assert _retry(api, headers, two).status_code == 200  # the day's third
        _fail(settings, two)
        refused = _retry(api, headers, two)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "retry_quota_exceeded"
        assert api.get(f"/api/items/{two}", headers=headers).json()["status"] == "failed"

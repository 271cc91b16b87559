"""Issue 16, item 15: anonymous search was an unindexed ILIKE '%q%' with offsets up to 100,000.
Now: trigram indexes serve it, offsets stop at 1,000, searches shorter than a trigram are
refused, and each client's searches are rate-limited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from streamapp import db
from streamapp.app import create_app
from streamapp.config import Settings

from local.postgres import Postgres
from tests.app.conftest import database_settings, migrate


def test_deep_offsets_are_refused(client: TestClient) -> None:
    for params in ({"offset": 100_000}, {"q": "pattern", "offset": 100_000}, {"offset": 1001}):
        resp = client.get("/api/items", params=params)
        assert resp.status_code == 422, (params, resp.text)
    assert client.get("/api/items", params={"offset": 1000}).status_code == 200


def test_searches_shorter_than_a_trigram_are_refused(client: TestClient) -> None:
    resp = client.get("/api/items", params={"q": " ab "})
    assert resp.status_code == 422 and resp.json()["code"] == "query_too_short"
    assert client.get("/api/items", params={"q": "abc"}).status_code == 200


ROWS = 50_000


@pytest.fixture(scope="module")
def big_catalog(settings: Settings, postgres: Postgres) -> Settings:
    """A database of its own with 50,000 public items (descriptions of random hex, a handful of
    titles with a rare word), analyzed: what the planner decides on a catalog of some size."""
    postgres.database("streamapp_search")
    big = settings.model_copy(update=database_settings(postgres, "streamapp_search"))
    migrate(big)
    # As the master user (a member of the schema's owner role): ANALYZE is the owner's.
    master = create_engine(postgres.url(database="streamapp_search"), poolclass=NullPool)
    with master.begin() as conn:
        conn.execute(text("DELETE FROM media_items"))
        conn.execute(text("DELETE FROM users"))
        owner = conn.execute(
            text(
                "INSERT INTO users (id, email, display_name, password_hash, role, created_at)"
                " VALUES (gen_random_uuid(), 'o@example.com', 'o', 'x', 'uploader', now())"
                " RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                """
                INSERT INTO media_items (id, owner_id, kind, title, description, visibility,
                    status, progress, attempts, source_key, source_bytes, probe, renditions,
                    created_at, updated_at)
                SELECT gen_random_uuid(), :owner, 'video',
                    CASE WHEN i % 10000 = 0 THEN 'Zebra crossing ' || i ELSE 'Clip ' || i END,
                    md5(i::text) || md5((i * 7)::text), 'public', 'ready', 1, 1, 'k', 1,
                    '{}', '[]', now() - make_interval(secs => i), now()
                FROM generate_series(1, :rows) AS i
                """
            ),
            {"owner": owner, "rows": ROWS},
        )
        conn.execute(text("ANALYZE media_items"))
    master.dispose()
    return big


@pytest.mark.parametrize("audience", ["anonymous", "user"])
def test_the_search_statement_uses_the_trigram_indexes(big_catalog: Settings, audience: str):
    """The app's own search statement, as PostgreSQL plans it on 50,000 items: from the trigram
    indexes (before: the whole table, or the whole browse index, read and filtered)."""
    from streamapp.api.catalog import _browse_statements, _like

    page, _ = _browse_statements(audience, True, False)
    params = {"uid": None, "pattern": _like("zebra"), "limit": 24, "offset": 0}
    statement = page.compile(dialect=db.engine(big_catalog).dialect)
    with db.engine(big_catalog).connect() as conn:
        plan = conn.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS) {statement}", statement.construct_params(params)
        )
        lines = "\n".join(row[0] for row in plan)
    assert "ix_media_items_title_trgm" in lines, lines
    assert "ix_media_items_description_trgm" in lines, lines
    assert "Seq Scan" not in lines, lines


def test_searches_are_rate_limited_per_client(settings: Settings) -> None:
    limited = settings.model_copy(update={"search_rate_per_minute": 5})
    app = create_app(limited, configure_logging=False)
    with TestClient(app) as one, TestClient(app, client=("198.51.100.7", 5000)) as other:
        for _ in range(5):
            assert one.get("/api/items", params={"q": "pattern"}).status_code == 200
        refused = one.get("/api/items", params={"q": "pattern"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "too_many_searches"
        assert int(refused.headers["retry-after"]) >= 1
        assert one.get("/api/items").status_code == 200  # browsing is not searching
        assert other.get("/api/items", params={"q": "pattern"}).status_code == 200

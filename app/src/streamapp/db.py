"""Database engine and sessions (SQLAlchemy 2, psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from streamapp import secrets
from streamapp.config import Settings

_URLS: dict[tuple[str | None, ...], str] = {}


def database_url(settings: Settings) -> str:
    # Resolved once per process: secrets are fetched at start-up, not on every request.
    key = (
        settings.database_url,
        settings.database_password,
        settings.database_password_secret_arn,
        settings.database_password_parameter,
    )
    if key not in _URLS:
        _URLS[key] = _build_url(settings)
    return _URLS[key]


def _build_url(settings: Settings) -> str:
    url = make_url(settings.database_url)
    password = secrets.resolve(settings, "database_password", json_key="password")
    if password:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


@lru_cache(maxsize=4)
def _engine(url: str, connect_timeout: int) -> Engine:
    # pre_ping drops connections that died while the database was away, so the app recovers
    # by itself once it is back; the connect timeout keeps /readyz fast while it is away.
    # pool_size: connections above it are closed when returned, and each new one costs a
    # backend start and a SCRAM handshake; with 5, bursts on the 40-thread request pool
    # churned connections exactly when the database was busiest. 20 at most per process.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=5,
        connect_args={"connect_timeout": connect_timeout},
    )


def engine(settings: Settings) -> Engine:
    return _engine(database_url(settings), settings.database_connect_timeout)


@lru_cache(maxsize=4)
def _sessionmaker(eng: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=eng, expire_on_commit=False)


def session_scope(settings: Settings) -> Iterator[Session]:
    with _sessionmaker(engine(settings))() as session:
        yield session


def new_session(settings: Settings) -> Session:
    return _sessionmaker(engine(settings))()


def ping(settings: Settings) -> None:
    with engine(settings).connect() as conn:
        conn.execute(text("SELECT 1"))

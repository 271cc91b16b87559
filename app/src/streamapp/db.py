"""Database engine and sessions (SQLAlchemy 2, psycopg 3)."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
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


# A pooled connection that sat idle this long is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 10.0


def _peer_closed(dbapi_connection: Any) -> bool:
    """True when the server side has spoken or hung up on an idle connection.

    An idle PostgreSQL connection receives nothing unless the server is going away (it sends
    the FATAL "terminating connection" and closes), so a readable socket means "ping it". A
    zero-timeout poll is a syscall, not a round trip."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
        return bool(poller.poll(0))
    except Exception:  # no socket (closed, broken): certainly not usable as is
        return True


def _install_liveness_check(eng: Engine) -> None:
    """Pessimistic disconnect handling at a fraction of ``pool_pre_ping``'s cost.

    ``pool_pre_ping`` spends a round trip (and a BEGIN) on every checkout, i.e. on every
    request. Here a checkout pings only a connection whose socket shows the server closed it,
    or that sat idle in the pool for more than ``PING_AFTER_IDLE_SECONDS`` (the case where a
    silent network failure may have killed it). A failed ping raises ``DisconnectionError``,
    on which the pool discards the connection and tries another (or a new one), so the app
    recovers by itself when the database comes back, as with pre_ping."""

    @event.listens_for(eng, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(eng, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        fresh = idle_since is None  # just connected
        if fresh:
            return
        idle = time.monotonic() - idle_since
        if idle <= PING_AFTER_IDLE_SECONDS and not _peer_closed(dbapi_connection):
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()  # leave no transaction open (autocommit changes)
        except Exception as error:
            raise exc.DisconnectionError(f"stale pooled connection: {error}") from error


@lru_cache(maxsize=4)
def _engine(url: str, connect_timeout: int) -> Engine:
    # Stale connections (the database restarted or went away) are detected at checkout, so
    # the app recovers by itself once it is back; see _install_liveness_check. The connect
    # timeout keeps /readyz fast while it is away.
    # pool_size: connections above it are closed when returned, and each new one costs a
    # backend start and a SCRAM handshake; with 5, bursts on the 40-thread request pool
    # churned connections exactly when the database was busiest. 20 at most per process.
    eng = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=5,
        connect_args={"connect_timeout": connect_timeout},
    )
    _install_liveness_check(eng)
    return eng


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


@lru_cache(maxsize=4)
def _autocommit(eng: Engine) -> Engine:
    return eng.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def read_connection(settings: Settings) -> Iterator[Connection]:
    """A pooled connection in autocommit mode for read-only requests: each statement runs on
    its own, so a request pays no BEGIN/ROLLBACK round trips around its one or two SELECTs."""
    with _autocommit(engine(settings)).connect() as conn:
        yield conn


def ping(settings: Settings) -> None:
    with engine(settings).connect() as conn:
        conn.execute(text("SELECT 1"))

"""Database engine and sessions (SQLAlchemy 2, psycopg 3)."""

from __future__ import annotations

import json
import logging
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from streamapp import secrets
from streamapp.config import Settings

log = logging.getLogger(__name__)

# After a refused login the secret is read again, but not again within this time (a wrong
# password must not turn every request into a Secrets Manager call).
REREAD_AFTER_SECONDS = 5.0


class Credentials:
    """The user and password the app connects with: the URL's user, the password inline or from
    a secret. A secret holding JSON gives its ``password`` and, when present, its ``username``
    (Secrets Manager's rotation secrets; the alternating-users strategy switches users).

    Read once per process; read again when the server refuses them (``reread``), since a
    rotation may have changed them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.url: URL = make_url(settings.database_url)
        self._lock = threading.Lock()
        self._value: tuple[str | None, str | None] | None = None
        self._reread_at = float("-inf")

    def current(self) -> tuple[str | None, str | None]:
        with self._lock:
            if self._value is None:
                self._value = self._read()
            return self._value

    def reread(self, refused: tuple[str | None, str | None]) -> bool:
        """After the server refused ``refused``: True when there are other credentials to try
        (another thread read them already, or the secret holds new ones)."""
        if not secrets.refreshable(self._settings, "database_password"):
            return False
        with self._lock:
            if self._value is not None and self._value != refused:
                return True
            if time.monotonic() - self._reread_at < REREAD_AFTER_SECONDS:
                return False
            self._reread_at = time.monotonic()
            self._value = self._read()
            return self._value != refused

    def _read(self) -> tuple[str | None, str | None]:
        user, password = self.url.username, self.url.password
        value = secrets.fetch(self._settings, "database_password")
        if value is None:
            return user, password
        if value.lstrip().startswith("{"):
            try:
                document = json.loads(value)
                return str(document.get("username") or user), str(document["password"])
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
        return user, value


_CREDENTIALS: dict[tuple[str | None, ...], Credentials] = {}
_CREDENTIALS_LOCK = threading.Lock()


def credentials(settings: Settings) -> Credentials:
    """One Credentials per process and database settings."""
    key = (
        settings.database_url,
        settings.database_password,
        settings.database_password_secret_arn,
        settings.database_password_parameter,
    )
    with _CREDENTIALS_LOCK:
        found = _CREDENTIALS.get(key)
        if found is None:
            found = _CREDENTIALS[key] = Credentials(settings)
        return found


def database_url(settings: Settings) -> str:
    """The URL with the current user and password, for a tool that connects on its own (pass
    it ``connect_args(settings)`` too)."""
    user, password = credentials(settings).current()
    url = make_url(settings.database_url).set(username=user, password=password)
    return url.render_as_string(hide_password=False)


def connect_args(settings: Settings) -> dict[str, Any]:
    """libpq parameters of every connection: the connect timeout and TLS (sslmode, and the CA
    bundle that verify-ca/verify-full check the server's certificate against)."""
    args: dict[str, Any] = {
        "connect_timeout": settings.database_connect_timeout,
        "sslmode": settings.database_sslmode,
    }
    if settings.database_sslrootcert:
        args["sslrootcert"] = settings.database_sslrootcert
    return args


def refused_credentials(error: BaseException) -> bool:
    """True when a connection failed because the server refused its user or password."""
    return "authentication failed" in str(error)


def _install_credentials(eng: Engine, creds: Credentials) -> None:
    """Every new connection logs in with the current credentials; one the server refuses for
    them reads the secret again (a rotation changed the password, or the user) and retries
    once, so the app survives a rotation without a restart."""

    @event.listens_for(eng, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        used = creds.current()
        try:
            return dialect.connect(*cargs, **_login(cparams, used))
        except dialect.loaded_dbapi.OperationalError as error:
            if not refused_credentials(error) or not creds.reread(used):
                raise
        log.warning("database login refused: connecting with the secret's new credentials")
        return dialect.connect(*cargs, **_login(cparams, creds.current()))


def _login(cparams: dict[str, Any], login: tuple[str | None, str | None]) -> dict[str, Any]:
    params = dict(cparams)
    user, password = login
    params.pop("password", None)
    if user:
        params["user"] = user
    if password:
        params["password"] = password
    return params


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
def _engine(creds: Credentials, args: tuple[tuple[str, Any], ...]) -> Engine:
    # Stale connections (the database restarted or went away) are detected at checkout, so
    # the app recovers by itself once it is back; see _install_liveness_check. The connect
    # timeout keeps /readyz fast while it is away.
    # pool_size: connections above it are closed when returned, and each new one costs a
    # backend start, a TLS and a SCRAM handshake; with 5, bursts on the 40-thread request pool
    # churned connections exactly when the database was busiest. 20 at most per process.
    eng = create_engine(
        creds.url._replace(password=None),
        pool_size=10,
        max_overflow=10,
        pool_timeout=5,
        connect_args=dict(args),
    )
    _install_liveness_check(eng)
    _install_credentials(eng, creds)
    return eng


def engine(settings: Settings) -> Engine:
    return _engine(credentials(settings), tuple(sorted(connect_args(settings).items())))


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

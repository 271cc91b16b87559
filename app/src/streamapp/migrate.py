"""Schema migrations shipped inside the package (``streamapp-migrate`` = alembic upgrade head).

With the master user's credentials (``upgrade(..., admin=...)``; ``streamapp-migrate
--admin-credentials-stdin``) the step also keeps the database's roles and privileges
(:mod:`streamapp.dbroles`) and runs the migrations as the owner role, all in one transaction.
Without them it migrates as the app's own user (a development database with one user).

With ``login_stage`` (``--login-stage AWSPENDING``) the step keeps the login of the app's secret
at that version stage instead of the current one, and checks that it logs in: the "set" and
"test" steps of Secrets Manager's alternating-users rotation (playbooks/rotate_db_login.yml).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from streamapp import db, dbroles
from streamapp.aws import client
from streamapp.config import Settings

# Two hosts migrating at once (run_once missed, ASG scale-out) serialise on this lock.
ADVISORY_LOCK = 720431


@dataclass(frozen=True)
class AdminCredentials:
    """The database's master user (RDS's master secret: ``{"username", "password"}``)."""

    username: str
    password: str


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "streamapp:migrations")
    return cfg


def upgrade(
    settings: Settings,
    revision: str = "head",
    *,
    admin: AdminCredentials | None = None,
    roles: dbroles.Roles | None = None,
    login_stage: str | None = None,
) -> list[str]:
    """Migrate to ``revision``; with ``admin``, keep the roles and privileges too, for the login
    of the app's secret (at ``login_stage`` when given). Returns the role and privilege
    statements run (empty when nothing changed)."""
    cfg = alembic_config()
    if login_stage and admin is None:
        raise ValueError("a login stage needs the master user's credentials")
    if admin is None:
        with db.engine(settings).begin() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
        return []

    roles = roles or dbroles.Roles()
    user, password = (
        staged_login(settings, login_stage) if login_stage else db.credentials(settings).current()
    )
    if not user or not password:
        raise ValueError("the app's database user and password are not configured")
    url = make_url(settings.database_url)._replace(username=admin.username, password=admin.password)
    admin_engine = create_engine(url, poolclass=NullPool, connect_args=db.connect_args(settings))
    try:
        with admin_engine.begin() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
            raw = connection.connection.driver_connection
            cfg.attributes["connection"] = connection
            changes = dbroles.keep(
                raw,
                roles,
                login=(user, password),
                password_works=_logs_in(settings, user, password),
                migrate=lambda: command.upgrade(cfg, revision),
            )
    finally:
        admin_engine.dispose()
    if login_stage and not _logs_in(settings, user, password):
        raise RuntimeError(f"the {login_stage} login of the app's secret does not log in")
    return changes.statements


def staged_login(settings: Settings, stage: str) -> tuple[str, str]:
    """The ``{username, password}`` of the app's secret at version stage ``stage``."""
    if not settings.database_password_secret_arn:
        raise ValueError(
            "a login stage needs the app's secret (STREAMAPP_DATABASE_PASSWORD_SECRET_ARN)"
        )
    value = client(settings, "secretsmanager").get_secret_value(
        SecretId=settings.database_password_secret_arn, VersionStage=stage
    )["SecretString"]
    document = json.loads(value)
    return str(document["username"]), str(document["password"])


def _logs_in(settings: Settings, user: str, password: str) -> bool:
    """True when the server accepts ``user`` with ``password`` (what it says after the login,
    e.g. no CONNECT on the database yet, does not matter)."""
    url = make_url(settings.database_url)
    try:
        psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            dbname=url.database,
            user=user,
            password=password,
            **db.connect_args(settings),
        ).close()
    except psycopg.OperationalError as error:
        return not db.refused_credentials(error)
    return True

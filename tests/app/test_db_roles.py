"""The migration step keeps the database's roles and privileges (streamapp.dbroles) and migrates
as the owner role; the app survives a rotation of its secret. Each test works in a database of
its own; the roles are the cluster's, as on an RDS instance."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from streamapp import db
from streamapp.config import Settings
from streamapp.migrate import upgrade

from local.postgres import Postgres
from tests.app.conftest import APP_DB_PASSWORD, APP_DB_USER, MASTER, database_settings, migrate


def _database(postgres: Postgres, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    postgres.database(name)
    return name


def _settings(postgres: Postgres, database: str, **overrides: Any) -> Settings:
    return Settings(**{**database_settings(postgres, database), **overrides})


def _owners(postgres: Postgres, database: str) -> set[str]:
    master = create_engine(postgres.url(database=database), poolclass=NullPool)
    with master.connect() as conn:
        owners = set(
            conn.execute(
                text(
                    "SELECT pg_get_userbyid(relowner) FROM pg_class"
                    " WHERE relnamespace = 'public'::regnamespace"
                    " UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace"
                    " WHERE nspname = 'public'"
                )
            ).scalars()
        )
    master.dispose()
    return owners


def test_a_new_database_gets_its_roles_then_nothing_changes(postgres: Postgres) -> None:
    settings = _settings(postgres, _database(postgres, "roles_new"))
    first = migrate(settings)
    assert any("ALTER SCHEMA" in s for s in first)
    assert any("ALTER DEFAULT PRIVILEGES" in s for s in first)
    assert all(APP_DB_PASSWORD not in s for s in first)
    assert migrate(settings) == []  # idempotent: every change is read first
    assert _owners(postgres, settings.database_url.rsplit("/", 1)[1]) == {"streamapp_owner"}


def test_a_database_the_master_user_migrated_goes_to_the_owner_role(postgres: Postgres) -> None:
    """An environment deployed before these roles: its tables belong to the master user, and
    the app logged in as the master user. The next migration step hands everything to the
    owner role and the app's login gets its DML, nothing more."""
    database = _database(postgres, "roles_legacy")
    legacy = Settings(database_url=postgres.url(database=database))  # the master user
    assert upgrade(legacy) == []
    assert "streamapp" in _owners(postgres, database)

    settings = _settings(postgres, database)
    changes = migrate(settings)
    assert any(s.startswith('ALTER TABLE "public"."users" OWNER TO') for s in changes), changes
    assert _owners(postgres, database) == {"streamapp_owner"}
    with db.engine(settings).begin() as conn:
        conn.execute(text("SELECT count(*) FROM users")).scalar_one()
        with pytest.raises(DBAPIError):
            conn.execute(text("ALTER TABLE users ADD COLUMN pwned int"))
    assert migrate(settings) == []


def test_tables_a_later_migration_makes_are_the_apps_too(postgres: Postgres) -> None:
    """The migration role creates; the owner role's default privileges give the app DML on
    what it creates, so a new migration needs no grant of its own."""
    database = _database(postgres, "roles_later")
    settings = _settings(postgres, database)
    migrate(settings)
    master = create_engine(postgres.url(database=database), poolclass=NullPool)
    with master.begin() as conn:  # what alembic does for the next revision, as the owner role
        conn.execute(text("SET LOCAL ROLE streamapp_owner"))
        conn.execute(text("CREATE TABLE playlists (id serial PRIMARY KEY, name text)"))
    master.dispose()
    with db.engine(settings).begin() as conn:
        new_id = conn.execute(
            text("INSERT INTO playlists (name) VALUES ('x') RETURNING id")
        ).scalar_one()
        conn.execute(text("DELETE FROM playlists WHERE id = :id"), {"id": new_id})
        with pytest.raises(DBAPIError):
            conn.execute(text("DROP TABLE playlists"))
    assert migrate(settings) == []


def test_the_app_must_not_log_in_as_the_master_user(postgres: Postgres) -> None:
    database = _database(postgres, "roles_master")
    settings = _settings(
        postgres, database, database_url=postgres.url(database=database, password=None)
    )
    with pytest.raises(ValueError, match="must be a login user of its own"):
        upgrade(settings, admin=MASTER)


def test_the_migration_step_sets_the_secrets_password_again(postgres: Postgres) -> None:
    """The password lives in the app's secret: a login user whose password differs (set by
    hand, a restore) gets the secret's at the next migration step, as a SCRAM verifier."""
    database = _database(postgres, "roles_password")
    settings = _settings(postgres, database)
    migrate(settings)
    master = create_engine(postgres.url(database=database), poolclass=NullPool)
    with master.begin() as conn:
        conn.execute(text(f"ALTER ROLE {APP_DB_USER} PASSWORD 'drifted-password-0'"))
    changes = migrate(settings)
    assert changes == [f"ALTER ROLE \"{APP_DB_USER}\" PASSWORD '***'"]
    master.dispose()
    db.engine(settings).dispose()
    with db.engine(settings).connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == APP_DB_USER


def test_the_app_survives_a_rotation_of_its_secret(
    postgres: Postgres, aws: Callable[..., Any]
) -> None:
    """Secrets Manager's alternating-users rotation: the secret moves to the other user with a
    new password. The app's open connections keep working; a new connection refused for the
    old credentials reads the secret again and logs in with the new ones."""
    database = _database(postgres, "roles_rotation")
    users = ("rotation_user", "rotation_user_clone")
    secrets = aws("secretsmanager")
    arn = secrets.create_secret(
        Name=f"test/db-app-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"username": users[0], "password": "first-password-0123"}),
    )["ARN"]
    settings = Settings(
        **{
            **database_settings(postgres, database),
            "database_url": postgres.url(database=database, user="unused", password=None),
            "database_password": None,
            "database_password_secret_arn": arn,
            "aws_endpoint_url": secrets.meta.endpoint_url,
            "aws_region": secrets.meta.region_name,
        }
    )
    migrate(settings)  # makes rotation_user, the secret's user
    # What the rotation's setSecret does for the other user.
    clone = _settings(
        postgres,
        database,
        database_url=postgres.url(database=database, user=users[1], password=None),
        database_password="second-password-0123",
    )
    upgrade(clone, admin=MASTER)
    eng = db.engine(settings)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == users[0]

    secrets.put_secret_value(
        SecretId=arn,
        SecretString=json.dumps({"username": users[1], "password": "second-password-0123"}),
    )
    master = create_engine(postgres.url(database=database), poolclass=NullPool)
    with master.begin() as conn:  # the next rotation changes the old user's password
        conn.execute(text(f"ALTER ROLE {users[0]} PASSWORD 'third-password-0123'"))
    master.dispose()
    eng.dispose()  # new connections from here on
    with eng.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == users[1]


def test_the_rotation_step_makes_the_pending_login_and_keeps_the_current_one(
    postgres: Postgres, aws: Callable[..., Any]
) -> None:
    """playbooks/rotate_db_login.yml's set and test steps (streamapp-migrate --login-stage
    AWSPENDING): the other user of the alternating pair gets the pending version's password and
    logs in, while the current user, which running hosts still use, keeps logging in."""
    database = _database(postgres, "roles_stage")
    secrets = aws("secretsmanager")
    arn = secrets.create_secret(
        Name=f"test/db-app-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"username": "stage_user", "password": "first-password-0123"}),
    )["ARN"]
    settings = Settings(
        **{
            **database_settings(postgres, database),
            "database_url": postgres.url(database=database, user="unused", password=None),
            "database_password": None,
            "database_password_secret_arn": arn,
            "aws_endpoint_url": secrets.meta.endpoint_url,
            "aws_region": secrets.meta.region_name,
        }
    )
    migrate(settings)
    secrets.put_secret_value(
        SecretId=arn,
        SecretString=json.dumps({"username": "stage_user_clone", "password": "second-pass-0123"}),
        VersionStages=["AWSPENDING"],
    )
    changes = upgrade(settings, admin=MASTER, login_stage="AWSPENDING")
    assert changes == ["CREATE ROLE \"stage_user_clone\" LOGIN PASSWORD '***'", *changes[1:]]
    assert upgrade(settings, admin=MASTER, login_stage="AWSPENDING") == []
    for user, password in (
        ("stage_user", "first-password-0123"),
        ("stage_user_clone", "second-pass-0123"),
    ):
        eng = create_engine(
            postgres.url(database=database, user=user, password=password),
            poolclass=NullPool,
            connect_args=db.connect_args(settings),
        )
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() >= 0
        eng.dispose()
    with pytest.raises(ValueError, match="needs the master user"):
        upgrade(settings, login_stage="AWSPENDING")

"""What the app's own database login may do (issue 16, item 5): reads and writes of its tables,
nothing else. An attacker who runs code in the API or the worker (a hostile upload, a bug) gets
this login and its connection, and tries to change the schema, to read what is not the app's
and to make roles; PostgreSQL refuses each, as it does on the hosts (streamapp.dbroles)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from streamapp import db
from streamapp.config import Settings

from local.postgres import DB_NAME, Postgres

# Another schema in the app's database, which the app has no business reading.
OTHER_SCHEMA = "finance"

ATTACKS = {
    "create a table": "CREATE TABLE pwned (x int)",
    "add a column": "ALTER TABLE users ADD COLUMN pwned int",
    "drop a table": "DROP TABLE watch_history",
    "truncate a table": "TRUNCATE users CASCADE",
    "create a schema": "CREATE SCHEMA pwned",
    "create a temporary table": "CREATE TEMPORARY TABLE pwned (x int)",
    "create a function": "CREATE FUNCTION pwned() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "create a role": "CREATE ROLE attacker LOGIN PASSWORD 'attacker-password'",
    "raise its own attributes": "ALTER ROLE CURRENT_USER CREATEROLE",
    "become the schema's owner": "SET ROLE streamapp_owner",
    "read the password hashes": "SELECT count(*) FROM pg_authid",
    "read another schema": "SELECT count(*) FROM finance.ledger",
    "rewrite the migration history": "UPDATE alembic_version SET version_num = version_num",
}


@pytest.fixture(scope="module")
def other_schema(settings: Settings, postgres: Postgres) -> Iterator[str]:
    """A schema the master user keeps beside the app's tables (e.g. a reporting job's)."""
    master = create_engine(postgres.url(database=DB_NAME), poolclass=NullPool)
    with master.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {OTHER_SCHEMA}"))
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {OTHER_SCHEMA}.ledger (amount int)"))
    yield OTHER_SCHEMA
    with master.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {OTHER_SCHEMA} CASCADE"))
    master.dispose()


@pytest.mark.parametrize("statement", list(ATTACKS.values()), ids=list(ATTACKS))
def test_the_apps_login_is_refused(settings: Settings, other_schema: str, statement: str) -> None:
    with db.engine(settings).connect() as conn:
        with pytest.raises(DBAPIError) as refused:
            conn.execute(text(statement))
        conn.rollback()
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege), refused.value


def test_the_apps_login_holds_its_table_privileges_and_no_more(settings: Settings) -> None:
    with db.engine(settings).connect() as conn:
        me = conn.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication"
                " FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        member_of = set(
            conn.execute(
                text(
                    "SELECT rolname FROM pg_roles WHERE rolname <> current_user"
                    " AND pg_has_role(current_user, oid, 'MEMBER')"
                )
            ).scalars()
        )
        tables = conn.execute(
            text(
                "SELECT c.relname,"
                " has_table_privilege(c.oid, 'SELECT'), has_table_privilege(c.oid, 'INSERT'),"
                " has_table_privilege(c.oid, 'UPDATE'), has_table_privilege(c.oid, 'DELETE'),"
                " has_table_privilege(c.oid, 'TRUNCATE'), has_table_privilege(c.oid, 'REFERENCES'),"
                " has_table_privilege(c.oid, 'TRIGGER')"
                " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
            )
        ).all()
        creates = conn.execute(
            text(
                "SELECT has_database_privilege(current_database(), 'CREATE'),"
                " has_database_privilege(current_database(), 'TEMPORARY'),"
                " has_schema_privilege('public', 'CREATE')"
            )
        ).one()
    assert tuple(me) == (False, False, False, False, False)
    assert member_of == {"streamapp_app"}  # not rds_superuser, not the owner role
    assert tuple(creates) == (False, False, False)
    privileges = {name: tuple(flags) for name, *flags in tables}
    assert privileges.pop("alembic_version") == (True, False, False, False, False, False, False)
    assert privileges and all(
        flags == (True, True, True, True, False, False, False) for flags in privileges.values()
    ), privileges


def test_the_app_connects_with_tls_and_verifies_the_servers_name(
    settings: Settings, postgres: Postgres
) -> None:
    """verify-full: the server's certificate must come from the CA bundle and name the host the
    app connects to; a server that cannot show one for that name is refused."""
    with db.engine(settings).connect() as conn:
        assert conn.execute(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).scalar_one()
    args = db.connect_args(settings)
    assert args["sslmode"] == "verify-full"
    user, password = db.credentials(settings).current()
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        # The same server, reached under a name its certificate does not carry.
        psycopg.connect(
            host="db.impostor.example",
            hostaddr="127.0.0.1",
            port=postgres.port,
            dbname=DB_NAME,
            user=user,
            password=password,
            **args,
        ).close()

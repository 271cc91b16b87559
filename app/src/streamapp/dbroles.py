"""The database's roles and privileges, kept by the migration step (``streamapp-migrate
--admin-credentials-stdin``), logged in as the database's master user. Nothing else uses the
master user; the app never does.

- The **owner role** (``streamapp_owner``, NOLOGIN) owns the schema and every table and
  sequence in it, and may create in the database (extensions). Migrations run as it
  (``SET ROLE``): they can create, alter and drop the schema's objects, nothing else.
- The **app role** (``streamapp_app``, NOLOGIN) holds what the API and the worker may do:
  CONNECT on the database, USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on its tables and
  USAGE on its sequences, also on those later migrations create (the owner role's default
  privileges); SELECT only on ``alembic_version``. No CREATE anywhere, no TRUNCATE, no other
  role's membership.
- The app's **login user** (the user the app's secret names, ``streamapp_app_user``): LOGIN,
  member of the app role and of nothing else, with the secret's password (sent as a SCRAM
  verifier, so no server log can show it). Secrets Manager's alternating-users rotation makes
  ``<user>_clone`` the same way.

PUBLIC keeps nothing on the database or the schema. Objects other roles own in the schema (a
database migrated by the master user before these roles existed) are given to the owner role.
Every change is read from the catalogs first, so a second run changes nothing; the statements
run (passwords left out) are returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

# Privileges by object kind (aclexplode's privilege_type).
TABLE_DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
SEQUENCE_USE = frozenset({"USAGE"})
READ_ONLY_TABLES = frozenset({"alembic_version"})  # the app reads, only migrations write
# Role attributes that a role of ours must not have (pg_roles column -> keyword to drop it).
_NOT_ALLOWED = {
    "rolsuper": "NOSUPERUSER",
    "rolcreatedb": "NOCREATEDB",
    "rolcreaterole": "NOCREATEROLE",
    "rolreplication": "NOREPLICATION",
    "rolbypassrls": "NOBYPASSRLS",
}


@dataclass(frozen=True)
class Roles:
    """The names of the roles this module keeps."""

    owner: str = "streamapp_owner"
    app: str = "streamapp_app"
    schema: str = "public"


@dataclass
class Changes:
    """The statements run, as shown to operators (no secrets)."""

    statements: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.statements)


class Keeper:
    """Brings one database's roles and privileges to the state above, on a psycopg connection
    of the master user inside a transaction (the caller commits)."""

    def __init__(self, conn: Any, roles: Roles, changes: Changes | None = None) -> None:
        self.conn = conn
        self.roles = roles
        self.changes = changes if changes is not None else Changes()

    # -- helpers -----------------------------------------------------------------------------
    def _rows(self, query: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(query, tuple(params)).fetchall())

    def _value(self, query: str, params: Iterable[Any] = ()) -> Any:
        rows = self._rows(query, params)
        return rows[0][0] if rows else None

    def _run(self, statement: sql.Composable, shown: str | None = None) -> None:
        self.conn.execute(statement)
        self.changes.statements.append(shown or statement.as_string(self.conn))

    def _set_role(self, role: str | None) -> None:
        # As the owner role, grants are recorded as the owner's (the grantor REVOKE must match).
        if role is None:
            self.conn.execute("RESET ROLE")
        else:
            self.conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

    # -- roles -------------------------------------------------------------------------------
    def ensure_group(self, name: str) -> None:
        """A NOLOGIN role with no attribute beyond INHERIT, a member of no other role."""
        attrs = self._role(name)
        if attrs is None:
            self._run(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
            return
        drop = [kw for col, kw in _NOT_ALLOWED.items() if attrs[col]]
        if attrs["rolcanlogin"]:
            drop.append("NOLOGIN")
        if drop:
            self._run(
                sql.SQL("ALTER ROLE {} {}").format(
                    sql.Identifier(name), sql.SQL(" ").join(map(sql.SQL, drop))
                )
            )
        self._only_member_of(name, set())

    def ensure_login(self, user: str, password: str, *, password_works: bool) -> None:
        """The app's login user: LOGIN, no other attribute, member of the app role only, with
        ``password`` (set again when it does not log in with it)."""
        verifier = self.conn.pgconn.encrypt_password(
            password.encode(), user.encode(), b"scram-sha-256"
        ).decode()
        attrs = self._role(user)
        ident = sql.Identifier(user)
        if attrs is None:
            self._run(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(verifier)),
                f"CREATE ROLE {ident.as_string(self.conn)} LOGIN PASSWORD '***'",
            )
        else:
            drop = [kw for col, kw in _NOT_ALLOWED.items() if attrs[col]]
            if not attrs["rolcanlogin"]:
                drop.append("LOGIN")
            if drop:
                self._run(
                    sql.SQL("ALTER ROLE {} {}").format(ident, sql.SQL(" ").join(map(sql.SQL, drop)))
                )
            if not password_works:
                self._run(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(verifier)),
                    f"ALTER ROLE {ident.as_string(self.conn)} PASSWORD '***'",
                )
        self._only_member_of(user, {self.roles.app})

    def ensure_admin_in_owner(self) -> None:
        """The master user must be a member of the owner role to give it objects and to run
        migrations as it (SET ROLE)."""
        if not self._value("SELECT pg_has_role(current_user, %s, 'MEMBER')", (self.roles.owner,)):
            self._run(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(self.roles.owner)))

    def _role(self, name: str) -> dict[str, Any] | None:
        cols = ["rolcanlogin", *_NOT_ALLOWED]
        rows = self._rows(f"SELECT {', '.join(cols)} FROM pg_roles WHERE rolname = %s", (name,))  # noqa: S608
        return dict(zip(cols, rows[0], strict=True)) if rows else None

    def _only_member_of(self, member: str, wanted: set[str]) -> None:
        have = {
            row[0]
            for row in self._rows(
                "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
                " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
                (member,),
            )
        }
        for role in sorted(have - wanted):
            self._run(
                sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), sql.Identifier(member))
            )
        for role in sorted(wanted - have):
            self._run(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(member))
            )

    # -- database and schema -----------------------------------------------------------------
    def ensure_database(self) -> None:
        """PUBLIC nothing, the app role CONNECT, the owner role CONNECT and CREATE."""
        database = self._value("SELECT current_database()")
        acl = self._acl(
            "SELECT (aclexplode(coalesce(datacl, acldefault('d', datdba)))).*"
            " FROM pg_database WHERE datname = current_database()"
        )
        target = sql.SQL("DATABASE {}").format(sql.Identifier(database))
        self._grant(target, acl, "PUBLIC", frozenset())
        self._grant(target, acl, self.roles.app, frozenset({"CONNECT"}))
        self._grant(target, acl, self.roles.owner, frozenset({"CONNECT", "CREATE"}))

    def ensure_schema(self) -> None:
        """The owner role owns the schema; PUBLIC nothing on it; the app role USAGE."""
        schema = self.roles.schema
        owner = self._value(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (schema,)
        )
        if owner is None:
            self._set_role(self.roles.owner)
            self._run(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            self._set_role(None)
        elif owner != self.roles.owner:
            self._run(
                sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(
                    sql.Identifier(schema), sql.Identifier(self.roles.owner)
                )
            )
        acl = self._acl(
            "SELECT (aclexplode(coalesce(nspacl, acldefault('n', nspowner)))).*"
            " FROM pg_namespace WHERE nspname = %s",
            (schema,),
        )
        self._set_role(self.roles.owner)
        target = sql.SQL("SCHEMA {}").format(sql.Identifier(schema))
        self._grant(target, acl, "PUBLIC", frozenset())
        self._grant(target, acl, self.roles.app, frozenset({"USAGE"}))
        self._set_role(None)

    # -- objects -----------------------------------------------------------------------------
    def ensure_ownership(self) -> None:
        """Tables, views and sequences of the schema that another role owns go to the owner
        role (tables first: ALTER TABLE takes the sequences they own along)."""
        for kinds, keyword in ((("r", "p", "v", "m", "f"), "TABLE"), (("S",), "SEQUENCE")):
            for (name,) in self._rows(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind = ANY(%s)"
                " AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %s)"
                " ORDER BY c.relname",
                (self.roles.schema, list(kinds), self.roles.owner),
            ):
                self._run(
                    sql.SQL("ALTER {} {} OWNER TO {}").format(
                        sql.SQL(keyword),
                        sql.Identifier(self.roles.schema, name),
                        sql.Identifier(self.roles.owner),
                    )
                )

    def ensure_object_privileges(self) -> None:
        """Each table: the app role DML (SELECT only on alembic_version), PUBLIC nothing; each
        sequence: the app role USAGE."""
        self._set_role(self.roles.owner)
        for name, kind, acl in self._objects():
            if kind == "S":
                target = sql.SQL("SEQUENCE {}").format(sql.Identifier(self.roles.schema, name))
                wanted = SEQUENCE_USE
            else:
                target = sql.SQL("TABLE {}").format(sql.Identifier(self.roles.schema, name))
                wanted = frozenset({"SELECT"}) if name in READ_ONLY_TABLES else TABLE_DML
            self._grant(target, acl, "PUBLIC", frozenset())
            self._grant(target, acl, self.roles.app, wanted)
        self._set_role(None)

    def ensure_default_privileges(self) -> None:
        """What the owner role creates in the schema later: tables DML and sequences USAGE for
        the app role."""
        self._set_role(self.roles.owner)
        for objtype, keyword, wanted in (
            ("r", "TABLES", TABLE_DML),
            ("S", "SEQUENCES", SEQUENCE_USE),
        ):
            have = {
                row[0]
                for row in self._rows(
                    "SELECT a.privilege_type FROM pg_default_acl d"
                    " JOIN pg_namespace n ON n.oid = d.defaclnamespace,"
                    " LATERAL aclexplode(d.defaclacl) a"
                    " WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = %s)"
                    " AND n.nspname = %s AND d.defaclobjtype = %s"
                    " AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %s)",
                    (self.roles.owner, self.roles.schema, objtype, self.roles.app),
                )
            }
            if have != wanted:
                prefix = sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {}").format(
                    sql.Identifier(self.roles.schema)
                )
                app = sql.Identifier(self.roles.app)
                if have - wanted:
                    self._run(
                        sql.SQL("{} REVOKE ALL ON {} FROM {}").format(prefix, sql.SQL(keyword), app)
                    )
                self._run(
                    sql.SQL("{} GRANT {} ON {} TO {}").format(
                        prefix,
                        sql.SQL(", ").join(map(sql.SQL, sorted(wanted))),
                        sql.SQL(keyword),
                        app,
                    )
                )
        self._set_role(None)

    def _objects(self) -> list[tuple[str, str, dict[str, frozenset[str]]]]:
        rows = self._rows(
            "SELECT c.relname, c.relkind, coalesce(r.rolname, 'PUBLIC'), a.privilege_type"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault(("
            "   CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner))) a"
            " ON true"
            " LEFT JOIN pg_roles r ON r.oid = a.grantee"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
            " ORDER BY c.relname",
            (self.roles.schema,),
        )
        objects: dict[tuple[str, str], dict[str, set[str]]] = {}
        for name, kind, grantee, privilege in rows:
            acl = objects.setdefault((name, kind), {})
            if privilege is not None:
                acl.setdefault(grantee, set()).add(privilege)
        return [
            (name, kind, {g: frozenset(p) for g, p in acl.items()})
            for (name, kind), acl in objects.items()
        ]

    def _acl(self, query: str, params: Iterable[Any] = ()) -> dict[str, frozenset[str]]:
        acl: dict[str, set[str]] = {}
        for _grantor, grantee, privilege, _grantable in self._rows(query, params):
            name = "PUBLIC" if grantee == 0 else self._value("SELECT %s::regrole::text", (grantee,))
            acl.setdefault(str(name).strip('"'), set()).add(privilege)
        return {g: frozenset(p) for g, p in acl.items()}

    def _grant(
        self,
        target: sql.Composable,
        acl: dict[str, frozenset[str]],
        grantee: str,
        wanted: frozenset[str],
    ) -> None:
        have = acl.get(grantee, frozenset())
        if have == wanted:
            return
        who = sql.SQL("PUBLIC") if grantee == "PUBLIC" else sql.Identifier(grantee)
        if have - wanted:
            self._run(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, who))
        if wanted:
            self._run(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(", ").join(map(sql.SQL, sorted(wanted))), target, who
                )
            )


def keep(
    conn: Any,
    roles: Roles,
    *,
    login: tuple[str, str],
    password_works: bool,
    migrate: Callable[[], None] | None = None,
) -> Changes:
    """The whole job, in the master user's transaction on ``conn`` (a psycopg connection):
    roles, database and schema, objects, default privileges, then ``migrate`` as the owner
    role, then the privileges of what it created (alembic_version)."""
    user, password = login
    admin = conn.execute("SELECT current_user").fetchone()[0]
    if user in (admin, roles.owner, roles.app):
        raise ValueError(
            f"the app's database user {user!r} must be a login user of its own, not the master"
            f" user or the {roles.owner!r}/{roles.app!r} role"
        )
    keeper = Keeper(conn, roles)
    keeper.ensure_group(roles.owner)
    keeper.ensure_group(roles.app)
    keeper.ensure_admin_in_owner()
    keeper.ensure_login(user, password, password_works=password_works)
    keeper.ensure_database()
    keeper.ensure_schema()
    keeper.ensure_ownership()
    keeper.ensure_default_privileges()
    keeper.ensure_object_privileges()
    if migrate is not None:
        keeper._set_role(roles.owner)
        migrate()
        keeper._set_role(None)
        keeper.ensure_object_privileges()
    return keeper.changes

"""Operator commands on the app's database: ``streamapp-admin`` (or ``python -m streamapp.admin``).

    streamapp-admin promote admin@example.com             # make an existing account an admin
    streamapp-admin promote someone@example.com --role uploader

Nobody becomes an admin by signing up (the e-mail address of an account is never verified):
an operator promotes an existing account on a host, where the app's settings and database
credentials are (the app role installs ``/usr/local/sbin/streamapp-admin``, which runs this as
the service user with its environment file and sandbox). Prints one JSON line; exit status 1
when no account has that address, 0 otherwise (also when it had the role already).
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import select

from streamapp import db
from streamapp.config import Settings, get_settings
from streamapp.models import Role, User


class NoSuchAccount(LookupError):
    pass


def set_role(settings: Settings, email: str, role: Role) -> tuple[User, bool]:
    """Give the account ``email`` the ``role``: (the user, whether it changed)."""
    with db.new_session(settings) as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise NoSuchAccount(email)
        changed = user.role != role
        if changed:
            user.role = role
            session.commit()
        return user, changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streamapp-admin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    promote = commands.add_parser("promote", help="give an existing account a role (admin)")
    promote.add_argument("email")
    promote.add_argument("--role", choices=[r.value for r in Role], default=Role.admin.value)
    args = parser.parse_args(argv)
    try:
        user, changed = set_role(get_settings(), args.email, Role(args.role))
    except NoSuchAccount:
        print(f"streamapp-admin: no account has the address {args.email!r}", file=sys.stderr)
        return 1
    print(json.dumps({"email": user.email, "role": user.role.value, "changed": changed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Console entry points: ``streamapp-api`` and ``streamapp-migrate``."""

from __future__ import annotations

import argparse
import logging
import sys

from streamapp import jsonlog
from streamapp.config import get_settings


def api(argv: list[str] | None = None) -> None:
    """Serve the API with uvicorn (production: gunicorn with uvicorn workers, see README)."""
    import uvicorn

    settings = get_settings()
    parser = argparse.ArgumentParser(prog="streamapp-api")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--workers", type=int, default=settings.workers)
    args = parser.parse_args(argv)
    jsonlog.setup(settings.log_level, settings.log_file)
    uvicorn.run(
        "streamapp.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )


def migrate(argv: list[str] | None = None) -> None:
    """Upgrade the database schema to the newest revision (idempotent); with the master user's
    credentials on stdin, keep the database's roles and privileges and migrate as the owner
    role (streamapp.dbroles)."""
    import json

    from streamapp.dbroles import Roles
    from streamapp.migrate import AdminCredentials, upgrade

    defaults = Roles()
    parser = argparse.ArgumentParser(prog="streamapp-migrate")
    parser.add_argument("revision", nargs="?", default="head")
    parser.add_argument(
        "--admin-credentials-stdin",
        action="store_true",
        help='read the master user\'s {"username": ..., "password": ...} (JSON) from stdin',
    )
    parser.add_argument(
        "--login-stage",
        default=None,
        help="keep the login of the app's secret at this version stage (rotation: AWSPENDING)"
        " and check that it logs in",
    )
    parser.add_argument("--owner-role", default=defaults.owner)
    parser.add_argument("--app-role", default=defaults.app)
    parser.add_argument("--schema", default=defaults.schema)
    args = parser.parse_args(argv)
    settings = get_settings()
    jsonlog.setup(settings.log_level, settings.log_file)
    log = logging.getLogger("streamapp.migrate")
    admin = None
    if args.admin_credentials_stdin:
        try:
            document = json.loads(sys.stdin.read())
            admin = AdminCredentials(str(document["username"]), str(document["password"]))
        except (ValueError, KeyError, TypeError):
            log.error("stdin holds no JSON object with username and password")
            sys.exit(2)
    try:
        changes = upgrade(
            settings,
            args.revision,
            admin=admin,
            roles=Roles(owner=args.owner_role, app=args.app_role, schema=args.schema),
            login_stage=args.login_stage,
        )
    except Exception:
        log.exception("migration failed")
        sys.exit(1)
    for statement in changes:
        log.info("database privileges changed", extra={"statement": statement})
    log.info("schema up to date", extra={"revision": args.revision})

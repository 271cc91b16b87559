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
    """Upgrade the database schema to the newest revision (idempotent)."""
    from streamapp.migrate import upgrade

    parser = argparse.ArgumentParser(prog="streamapp-migrate")
    parser.add_argument("revision", nargs="?", default="head")
    args = parser.parse_args(argv)
    settings = get_settings()
    jsonlog.setup(settings.log_level, settings.log_file)
    try:
        upgrade(settings, args.revision)
    except Exception:
        logging.getLogger("streamapp.migrate").exception("migration failed")
        sys.exit(1)
    logging.getLogger("streamapp.migrate").info(
        "schema up to date", extra={"revision": args.revision}
    )

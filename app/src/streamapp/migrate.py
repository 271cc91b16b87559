"""Schema migrations shipped inside the package (``streamapp-migrate`` = alembic upgrade head)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from streamapp.config import Settings
from streamapp.db import engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "streamapp:migrations")
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    cfg = alembic_config()
    # Advisory lock: two hosts migrating at once (run_once missed, ASG scale-out) serialise.
    with engine(settings).begin() as connection:
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(720431)")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

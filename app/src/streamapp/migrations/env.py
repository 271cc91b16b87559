"""Alembic environment: the URL comes from the app's settings, never from an ini file."""

from __future__ import annotations

from alembic import context

from streamapp.config import get_settings
from streamapp.db import engine
from streamapp.models import Base

connectable = context.config.attributes.get("connection")


def run() -> None:
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    with engine(get_settings()).connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()

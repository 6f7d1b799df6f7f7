"""Alembic environment: run by `inboxcrm db upgrade` with the URL from settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

import inboxcrm.models  # noqa: F401  (registers every table on the metadata)
from inboxcrm.db import Base
from inboxcrm.migrate import include_object

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(url or "")
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run()

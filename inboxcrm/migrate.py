"""Alembic, driven from code: `inboxcrm db upgrade` and the test fixtures call this."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from inboxcrm.db import private_sqlite_file

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """Leave the search index (FTS5 tables, pg_trgm index) and PostgreSQL's indexes in a
    NULLS order (the leads' sorts, the clocks' claim) out of model comparisons: the
    migrations own them, the models do not describe them (SQLite has no such index)."""
    return not (name or "").startswith(
        ("lead_search", "ix_lead_search_text_trgm", "ix_lead_nulls_last_", "ix_mailbox_poll_order")
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    private_sqlite_file(url)  # SQLite: the file is 0600 before the first table goes in
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a migration from the models (a developer reviews it before committing)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)

"""What "nothing changed" means for leads: every row of the tables a lead operation writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import inboxcrm.models  # noqa: F401  (every table in the metadata)
from inboxcrm.db import Base

# Rows around leads that no lead operation has reason to touch other than through a lead:
# the tables pointing at leads, and what leads point at or share.
_AROUND_LEADS = {"lead", "tag", "company", "company_domain", "blocked_address", "thread"}


def lead_tables() -> list[str]:
    return [
        table.name
        for table in Base.metadata.sorted_tables
        if table.name in _AROUND_LEADS
        or any(fk.column.table.name == "lead" for fk in table.foreign_keys)
    ]


def lead_rows(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table leads live in, read afresh."""
    session.expire_all()
    tables = {table.name: table for table in Base.metadata.sorted_tables}
    return {
        name: sorted((tuple(row) for row in session.execute(select(tables[name]))), key=repr)
        for name in lead_tables()
    }

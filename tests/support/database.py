"""Which database the tests run on: SQLite by default, PostgreSQL when
INBOXCRM_TEST_DATABASE_URL names a server (scripts/with-postgres sets it); and what the
database does with a query: the statements a call sends, and each one's plan."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

POSTGRES_URL = os.environ.get("INBOXCRM_TEST_DATABASE_URL", "")


def statements(bind: Session | Engine, run: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The statements, with their parameters, that `run()` sends through the session's
    engine (or this engine: an app's, for a request)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def plan(session: Session, statement: str, params: Any) -> list[str]:
    """The database's plan for a statement sent as is: EXPLAIN's lines on PostgreSQL,
    EXPLAIN QUERY PLAN's details on SQLite."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return [row[0] for row in conn.exec_driver_sql(f"EXPLAIN (COSTS OFF) {statement}", params)]
    return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)]


def sorts_and_filters(lines: list[str]) -> list[str]:
    """The steps of a plan that sort rows, or drop rows an index condition did not choose:
    PostgreSQL's Sort, Incremental Sort and Filter, SQLite's temporary B-tree for ORDER BY."""
    steps = [line.strip().removeprefix("->").strip() for line in lines]
    return [
        step
        for step in steps
        if step.startswith(("Sort", "Incremental Sort", "Filter:")) or "TEMP B-TREE" in step
    ]

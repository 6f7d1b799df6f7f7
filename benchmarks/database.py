"""The database a page benchmark seeds and measures: a SQLite file by default, PostgreSQL
when INBOXCRM_BENCH_DATABASE_URL (or else INBOXCRM_DATABASE_URL) names a server.

On PostgreSQL the benchmark creates a fresh database beside the one the URL names and
drops it afterwards; a role that may not create databases gets the named database itself,
which must be empty. Either way it is migrated to head before seeding.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from inboxcrm.db import Base
from inboxcrm.migrate import upgrade


def server_url() -> str:
    """The PostgreSQL URL the benchmarks were pointed at, or "" for SQLite."""
    url = os.environ.get("INBOXCRM_BENCH_DATABASE_URL") or os.environ.get(
        "INBOXCRM_DATABASE_URL", ""
    )
    return url if url.startswith("postgresql") else ""


def dialect() -> str:
    return "postgresql" if server_url() else "sqlite"


@contextmanager
def bench_database(tmp: Path, name: str = "bench") -> Iterator[str]:
    """A migrated, empty database for one benchmark run; its URL."""
    server = server_url()
    if not server:
        url = f"sqlite:///{tmp}/{name}.sqlite3"
        upgrade(url)
        yield url
        return
    fresh = f"inboxcrm_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{fresh}"'))
    except ProgrammingError:  # no CREATEDB privilege: use the named database, if empty
        admin.dispose()
        with create_engine(server).connect() as conn:
            if inspect(conn).get_table_names():
                raise SystemExit(
                    "the benchmark database has tables: name an empty one, "
                    "or give the role CREATEDB"
                ) from None
        upgrade(server)
        yield server
        return
    url = make_url(server).set(database=fresh).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        admin.dispose()


NOT_ALL_VISIBLE = """
    SELECT count(*) FROM pg_class
    WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relallvisible < relpages
"""


def finish_seed(engine: Engine) -> None:
    """After a bulk load (committed): the id sequences past the ids given explicitly, and
    planner statistics, as a running database has them.

    On PostgreSQL VACUUM (ANALYZE): besides the statistics, the visibility map that lets
    index-only scans skip the table, which autovacuum sets on a live database soon after
    a bulk insert. INBOXCRM_BENCH_ANALYZE=plain runs ANALYZE alone, to see the difference."""
    with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            return
        for table in Base.metadata.sorted_tables:
            if "id" in table.c and table.c.id.primary_key:
                top = select(func.max(table.c.id)).scalar_subquery()
                sequence = func.pg_get_serial_sequence(table.name, "id")
                conn.execute(select(func.setval(sequence, func.greatest(top, 1))))
        conn.commit()
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        if os.environ.get("INBOXCRM_BENCH_ANALYZE") == "plain":
            autocommit.exec_driver_sql("ANALYZE")
            return
        autocommit.exec_driver_sql("VACUUM (ANALYZE)")
        # An autovacuum worker analyzing a table meanwhile holds back what VACUUM may mark
        # visible: vacuum again, a few times at most, until every page is.
        for _ in range(5):
            if not autocommit.scalar(text(NOT_ALL_VISIBLE)):
                return
            time.sleep(1)
            autocommit.exec_driver_sql("VACUUM")

"""Writing tracking hits while the pixel or the redirect is answered: one INSERT into a
table with no foreign keys and three indexes, on a connection that does not wait long for
a busy database. If the write fails (SQLite locked by a long writer, PostgreSQL away),
the hit waits in this process's memory and a flusher thread writes it once the database
answers again; the request is answered at once either way. The clock classifies what was
written (`outbox/jobs.py`); the web process never does more per hit than the INSERT."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert

from inboxcrm.db import Database, chunks
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.outbox.models import TrackingHit

log = logging.getLogger(__name__)

# A hit's INSERT does not wait for a busy SQLite at all: it is queued in memory at once;
# the flusher waits its turn like any writer.
FLUSH_WAIT_S = 5.0
BACKLOG = 100_000  # hits kept in memory at most while the database is away (oldest dropped)
FLUSH_EVERY = 1.0  # seconds between the flusher's tries


def _engine(database: Database, wait_s: float) -> Engine:
    if database.dialect != "sqlite":
        return database.engine
    engine = create_engine(
        database.url, connect_args={"timeout": wait_s, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL is the file's, set by the app
        cursor.close()

    return engine


class HitWriter:
    def __init__(self, database: Database) -> None:
        self.engine = _engine(database, 0.0)
        self.flush_engine = _engine(database, FLUSH_WAIT_S)
        self.table = core_table(TrackingHit)
        self.backlog: deque[dict[str, Any]] = deque(maxlen=BACKLOG)
        self.lock = threading.Lock()
        self.flusher: threading.Thread | None = None

    def record(self, row: dict[str, Any]) -> bool:
        """Write one hit; False when it was queued in memory instead."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.table), row)
        except Exception as exc:  # any failure: keep the hit, answer the request
            log.debug("tracking hit queued in memory: %s", exc.__class__.__name__)
            self._queue(row)
            return False
        return True

    def _queue(self, row: dict[str, Any]) -> None:
        with self.lock:
            self.backlog.append(row)
            if self.flusher is None or not self.flusher.is_alive():
                log.warning("tracking hits are queued in memory until the database answers")
                self.flusher = threading.Thread(target=self._flush_loop, daemon=True,
                                                name="tracking-hits")  # fmt: skip
                self.flusher.start()

    def flush(self) -> int:
        """Write the hits waiting in memory; returns how many were written."""
        with self.lock:
            rows = list(self.backlog)
            self.backlog.clear()
        written = 0
        try:
            for chunk in chunks(rows):
                with self.flush_engine.begin() as conn:
                    conn.execute(insert(self.table), chunk)
                written += len(chunk)
        except Exception as exc:
            log.warning("tracking hits still queued: %s", exc.__class__.__name__)
            with self.lock:
                self.backlog.extendleft(reversed(rows[written:]))
        return written

    def _flush_loop(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY)
            self.flush()
            with self.lock:
                if not self.backlog:
                    self.flusher = None
                    return

    def dispose(self) -> None:
        self.flush()
        if self.engine is not self.flush_engine:
            self.engine.dispose()
            self.flush_engine.dispose()

"""What scheduled jobs work with: the Runtime, the Job, and the record of each run.

A leaf: every domain's jobs import it, and it imports no job. Which jobs run, and how
often, is decided in `inboxcrm.setup`; `inboxcrm.scheduler` ticks them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from inboxcrm.config import Settings
from inboxcrm.db import Base, Database, utcnow

log = logging.getLogger(__name__)


class JobRun(Base):
    """The latest run of each scheduled job."""

    __tablename__ = "job_run"

    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


@dataclass
class Runtime:
    """What jobs work with: the database, the settings, and state kept between ticks."""

    database: Database
    settings: Settings
    buckets: dict[int, Any] = field(default_factory=dict)  # quota bucket per mailbox
    # Mailbox syncs run here, one thread per mailbox at a time, so a long full sync
    # neither blocks the clock's ticks nor the other mailboxes. A poll mostly waits on
    # Gmail, so there are more workers than cores.
    workers: int = 8
    pool: ThreadPoolExecutor = field(init=False)
    running: list[Future[Any]] = field(default_factory=list)  # the workers under way
    lock: threading.Lock = field(default_factory=threading.Lock)  # guards `running`
    waiting: threading.Lock = field(default_factory=threading.Lock)  # held by the waiter
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sync")

    def stop(self) -> None:
        """Ask running syncs to stop after their current batch, and wait for them."""
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Job:
    id: str
    every: dt.timedelta
    run: Callable[[Runtime, dt.datetime], object]


def heartbeat(runtime: Runtime, now: dt.datetime) -> None:
    """Does nothing but get recorded: proof that the clock ticks when no other job is due."""


def run_job(runtime: Runtime, job: Job, now: Callable[[], dt.datetime] = utcnow) -> None:
    """Run one job and record how it went; never raise into APScheduler."""
    database = runtime.database
    started = now()
    error: str | None = None
    try:
        job.run(runtime, started)
    except Exception as exc:  # a failed tick is recorded and retried at the next one
        log.exception("job %s failed", job.id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
    with database.session() as session:
        row = session.get(JobRun, job.id) or JobRun(job=job.id, started_at=started)
        row.started_at, row.finished_at, row.error = started, now(), error
        session.add(row)


def last_runs(session: Session) -> dict[str, JobRun]:
    return {row.job: row for row in session.scalars(select(JobRun))}

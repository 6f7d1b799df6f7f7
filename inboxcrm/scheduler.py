"""What runs when: the JOBS table, and the clock process that ticks them.

Only the `clock` process (and the demo) runs APScheduler. Its jobs are short ticks that
claim due work from the database, so running one twice, late, or on two machines at once
is safe. Each run is recorded in `job_run`, which /healthz reads to tell whether the clock
is alive.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
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
    # neither blocks the clock's ticks nor the other mailboxes.
    workers: int = 4
    pool: ThreadPoolExecutor = field(init=False)
    running: dict[int, Future[Any]] = field(default_factory=dict)
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


def _jobs() -> tuple[Job, ...]:
    from inboxcrm.labels.to_gmail import relabel_due
    from inboxcrm.leads.jobs import recapture_due
    from inboxcrm.mail.jobs import SYNC_TICK, sync_due

    return (
        Job("heartbeat", dt.timedelta(seconds=30), heartbeat),
        Job("sync_mailboxes", SYNC_TICK, sync_due),
        Job("relabel_threads", dt.timedelta(seconds=15), relabel_due),
        Job("recapture_leads", dt.timedelta(seconds=15), recapture_due),
    )


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


def schedule(
    scheduler: BaseScheduler, runtime: Runtime, jobs: tuple[Job, ...] | None = None
) -> None:
    for job in jobs or _jobs():
        scheduler.add_job(
            run_job,
            "interval",
            args=(runtime, job),
            id=job.id,
            name=job.id,
            seconds=job.every.total_seconds(),
            next_run_time=utcnow(),
            coalesce=True,  # a clock that fell behind runs a tick once, not once per miss
            max_instances=1,
            misfire_grace_time=int(job.every.total_seconds()),
        )


def run_clock(runtime: Runtime) -> None:
    scheduler = BlockingScheduler(timezone=dt.UTC)
    schedule(scheduler, runtime)
    log.info("clock started: %s", ", ".join(f"{j.id} every {j.every}" for j in _jobs()))
    try:
        scheduler.start()
    finally:
        runtime.stop()

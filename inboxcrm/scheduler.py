"""The clock process: APScheduler ticking the jobs that `inboxcrm.setup` lists.

Only the `clock` process (and the demo) runs APScheduler. Its jobs are short ticks that
claim due work from the database, so running one twice, late, or on two machines at once
is safe. Each run is recorded in `job_run`, which /healthz reads to tell whether the clock
is alive.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from inboxcrm.db import utcnow
from inboxcrm.runtime import Job, Runtime, run_job

log = logging.getLogger(__name__)


def schedule(scheduler: BaseScheduler, runtime: Runtime, jobs: tuple[Job, ...]) -> None:
    for job in jobs:
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


def run_clock(runtime: Runtime, jobs: tuple[Job, ...]) -> None:
    scheduler = BlockingScheduler(timezone=dt.UTC)
    schedule(scheduler, runtime, jobs)
    log.info("clock started: %s", ", ".join(f"{j.id} every {j.every}" for j in jobs))
    try:
        scheduler.start()
    finally:
        runtime.stop()

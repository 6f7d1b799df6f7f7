from __future__ import annotations

import datetime as dt
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.runtime import Job, JobRun, Runtime, heartbeat, last_runs, run_job
from inboxcrm.scheduler import schedule

T0 = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def test_a_failing_job_is_recorded_and_does_not_raise(
    db: Database, session: Session, settings: Settings
) -> None:
    def broken(_runtime: Runtime, _now: dt.datetime) -> None:
        raise RuntimeError("Gmail said no")

    run_job(Runtime(db, settings), Job("broken", dt.timedelta(seconds=1), broken), now=lambda: T0)
    run = last_runs(session)["broken"]
    assert run.error == "RuntimeError: Gmail said no"
    assert run.started_at == T0


def test_a_job_that_recovers_clears_its_error(
    db: Database, session: Session, settings: Settings
) -> None:
    outcomes = iter([RuntimeError("once"), None])

    def flaky(_runtime: Runtime, _now: dt.datetime) -> None:
        error = next(outcomes)
        if error:
            raise error

    job = Job("flaky", dt.timedelta(seconds=1), flaky)
    runtime = Runtime(db, settings)
    run_job(runtime, job, now=lambda: T0)
    run_job(runtime, job, now=lambda: T0 + dt.timedelta(minutes=1))
    session.expire_all()
    run = session.get(JobRun, "flaky")
    assert run is not None
    assert run.error is None
    assert run.finished_at == T0 + dt.timedelta(minutes=1)


@pytest.mark.slow  # a real scheduler, waited for until it ticks
def test_the_clock_ticks_and_healthz_reports_it(
    db: Database, client: FlaskClient, settings: Settings
) -> None:
    assert client.get("/healthz").json["clock"]["last_tick_at"] is None
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    schedule(
        scheduler, Runtime(db, settings), (Job("heartbeat", dt.timedelta(seconds=30), heartbeat),)
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while client.get("/healthz").json["clock"]["last_tick_at"] is None:
            assert time.monotonic() < deadline, "the heartbeat never ran"
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    assert client.get("/healthz").json["clock"]["failing"] == []

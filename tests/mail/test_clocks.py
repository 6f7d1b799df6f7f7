"""Several clock processes on one database share the mailboxes' polls, and never poll one
mailbox twice at once: the sandbox Google counts each user's calls in flight."""

from __future__ import annotations

import time

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import jobs
from tests.support.commands import start
from tests.support.sandbox import AVA, BEN, MIA
from tests.support.web import google_signin

pytestmark = [pytest.mark.google, pytest.mark.slow]  # real processes, watched in real time
PEOPLE = (AVA, BEN, MIA)
CLOCKS = 4
POLLS = 5  # each mailbox's polls watched for
WATCH = 60.0  # seconds at most


def _quota(sandbox: RunningSandbox, user: str) -> dict[str, float]:
    answer = requests.get(f"{sandbox.url}/_sandbox/quota", params={"user": user}, timeout=10)
    figures: dict[str, float] = answer.json()
    return figures


def test_four_clock_processes_never_poll_one_mailbox_at_once(
    client: FlaskClient,
    session: Session,
    db: Database,
    google_settings: Settings,
    sandbox: RunningSandbox,
) -> None:
    for person in PEOPLE:
        google_signin(client, person)
    runtime = Runtime(db, google_settings)
    sync = next(job for job in jobs() if job.id == "sync_mailboxes")
    for future in sync.run(runtime, utcnow()):  # type: ignore[attr-defined]
        future.result()  # the first, full syncs
    # Each poll's history.list answers slowly, so two polls of one mailbox would overlap.
    slow = {"kind": "slow", "delay": 0.2, "count": 100_000, "operation": "history.list"}
    requests.post(f"{sandbox.url}/_sandbox/faults", json=slow, timeout=10)
    with db.session() as s:  # due now, at the clocks' start
        s.execute(update(Mailbox).values(next_poll_at=utcnow()))
    before = {person: _quota(sandbox, person)["used"] for person in PEOPLE}

    def polls(person: str) -> float:
        return (_quota(sandbox, person)["used"] - before[person]) / 2  # history.list: 2 units

    # Polls every second: each clock's waiting worker wakes for every mailbox's turn, so the
    # clocks contend for the same mailboxes over and over.
    clocks = [start(google_settings, "clock", INBOXCRM_POLL_SECONDS="1") for _ in range(CLOCKS)]
    try:
        deadline = time.monotonic() + WATCH
        while time.monotonic() < deadline and min(polls(p) for p in PEOPLE) < POLLS:
            time.sleep(0.25)
    finally:
        for clock in clocks:
            clock.terminate()
        for clock in clocks:
            clock.wait(timeout=30)
        requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=10)
    for person in PEOPLE:
        assert polls(person) >= POLLS, person  # the clocks really polled, over and over
        assert _quota(sandbox, person)["max_in_flight"] == 1, person  # never twice at once

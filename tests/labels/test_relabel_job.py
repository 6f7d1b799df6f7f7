"""The clock's relabel job end to end: a card moved on the board relabels its thread in
the sandbox's Gmail, through the scheduler's job table, with the mailbox's own tokens."""

from __future__ import annotations

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.connection import gmail_calls
from inboxcrm.accounts.models import Mailbox, SyncState
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.mail.models import Thread
from inboxcrm.runtime import Runtime, run_job
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS, jobs
from inboxcrm.stages.models import Stage, StageChange
from tests.support.mail import ANSWER, PROPOSAL
from tests.support.sandbox import AVA
from tests.support.web import csrf_token, google_signin

pytestmark = pytest.mark.google


def test_a_card_moved_on_the_board_is_relabelled_in_gmail_by_the_clock(
    client: FlaskClient,
    session: Session,
    db: Database,
    google_settings: Settings,
    sandbox: RunningSandbox,
) -> None:
    control = f"{sandbox.url}/_sandbox"
    for eml, labels in ((PROPOSAL, ["SENT"]), (ANSWER, ["INBOX"])):
        answer = requests.post(
            f"{control}/deliver", json={"to": AVA, "eml": eml, "labelIds": labels}, timeout=10
        )
        assert answer.status_code == 200, answer.text
    google_signin(client, AVA)
    runtime = Runtime(db, google_settings, workers=1)
    mailbox = session.scalars(select(Mailbox)).one()
    assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    nina = session.scalars(select(Lead)).unique().one()
    sql = session.scalars(select(Stage).where(Stage.name == "SQL")).one()

    board = client.get("/board")
    moved = client.post(
        "/board/move",
        data={"lead_id": nina.id, "stage_id": sql.id, "csrf_token": csrf_token(board.text)},
        headers={"Accept": "application/json"},
    )
    assert moved.status_code == 200, moved.text
    # The request only queued the relabel; Gmail is untouched until the clock's job runs.
    assert session.scalar(select(func.count()).where(Thread.relabel_at.is_not(None))) == 1
    job = next(j for j in jobs() if j.id == "relabel_threads")
    run_job(runtime, job)

    with db.session() as s:
        box = s.get_one(Mailbox, mailbox.id)
        calls = gmail_calls(runtime, box)
        labels = {lb["id"]: lb["name"] for lb in calls.labels()}
        thread = s.scalars(select(Thread)).one()
        assert thread.relabel_at is None
        gmail_thread = (
            calls.users.threads().get(userId="me", id=thread.gmail_id).execute(http=calls.http)
        )
    on_thread = {labels[i] for m in gmail_thread["messages"] for i in m["labelIds"]}
    assert "CRM/SQL" in on_thread
    assert not {n for n in on_thread if n.startswith("CRM/")} - {"CRM/SQL"}

    assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(StageChange)) == 1  # no echo

"""A reply that lifts a lead over 50, through a real sync on the sandbox Google as the
clock runs it: the lead moves to MQL, recorded as moved by the rule, the clock's relabel
job puts CRM/MQL on the thread in Gmail, and the owner is told the lead turned hot."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.connection import gmail_calls
from inboxcrm.accounts.models import Mailbox, Member, SyncState
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.mail.models import Thread
from inboxcrm.notifications.models import NoticeKind, Notification
from inboxcrm.runtime import Runtime, run_job
from inboxcrm.scoring.rescore import rescore
from inboxcrm.setup import SYNC_STEPS, jobs
from inboxcrm.stages.models import ChangeSource, StageChange
from tests.factories import ActivityFactory, LeadFactory
from tests.support.mail import ANSWER, PROPOSAL
from tests.support.sandbox import AVA, Control, deliver
from tests.support.web import google_signin

pytestmark = pytest.mark.google
NINA = "nina.berg@vandelay.co.uk"


def test_a_reply_over_the_line_moves_the_lead_to_mql_and_its_gmail_label_follows(
    client: FlaskClient, session: Session, db: Database, google_settings: Settings,
    control: Control,
) -> None:  # fmt: skip
    google_signin(client, AVA)
    ava = session.scalars(select(Member)).one()
    now = dt.datetime.fromtimestamp(control("clock", method="GET")["now"], dt.UTC)
    # Nina: a decision-maker with BANT known (25 fit), who accepted a meeting yesterday.
    nina = LeadFactory(owner=ava, email=NINA, name="Nina Berg", title="Head of Sales",
                       budget="40k", authority="signs", need="CRM", timeline="Q1")  # fmt: skip
    ActivityFactory(lead=nina, kind=ActivityKind.meeting, at=now - dt.timedelta(days=1))
    rescore(session, nina.workspace_id, [nina.id], now)
    session.commit()
    assert 40 <= session.get_one(Lead, nina.id).score < 50
    deliver(control, AVA, PROPOSAL, sent=True)
    deliver(control, AVA, ANSWER)  # she answers at once: a quick reply, +15
    runtime = Runtime(db, google_settings, workers=1)
    mailbox = session.scalars(select(Mailbox)).one()
    assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle

    session.expire_all()
    lead = session.get_one(Lead, nina.id)
    assert lead.score >= 50
    assert lead.stage.name == "MQL"
    assert session.scalars(select(Activity.kind).where(Activity.kind == ActivityKind.reply)).all()
    [change] = session.scalars(select(StageChange)).all()
    assert (change.source, change.detail) == (ChangeSource.rule, "rule: Score ≥ 50")
    [hot] = session.scalars(select(Notification)).unique().all()
    assert (hot.kind, hot.member_id, hot.lead_id) == (NoticeKind.hot, ava.id, nina.id)

    run_job(runtime, next(j for j in jobs() if j.id == "relabel_threads"))
    with db.session() as s:
        calls = gmail_calls(runtime, s.get_one(Mailbox, mailbox.id))
        names = {lb["id"]: lb["name"] for lb in calls.labels()}
        thread = s.scalars(select(Thread)).one()
        gmail_thread = (
            calls.users.threads().get(userId="me", id=thread.gmail_id).execute(http=calls.http)
        )
    on_thread = {names[i] for m in gmail_thread["messages"] for i in m["labelIds"]}
    assert {n for n in on_thread if n.startswith("CRM/")} == {"CRM/MQL"}

    # The next poll (our relabel comes back as label news) moves and notifies nothing more.
    assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    session.expire_all()
    assert len(session.scalars(select(StageChange)).all()) == 1
    assert len(session.scalars(select(Notification)).unique().all()) == 1

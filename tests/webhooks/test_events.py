"""Events written where things happen, in their transaction: synced mail's new leads and
replies (once, however often the batch is replayed)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.events import Event, EventType
from inboxcrm.leads.models import Lead
from tests.factories import MailboxFactory, WorkspaceFactory
from tests.support.signals import fetched, message
from tests.support.synced import sync

REP = "rita@team.example"
NINA = "nina@vandelay.example"


def test_a_lead_from_mail_and_its_reply_are_events_once(session: Session) -> None:
    workspace = WorkspaceFactory(domain="team.example")
    box = MailboxFactory(workspace=workspace, email=REP)
    ours = message(f"From: Rita <{REP}>", f"To: {NINA}", "Subject: Proposal",
                   "Message-ID: <proposal@team.example>", body="Here it is.")  # fmt: skip
    answer = message(f"From: Nina <{NINA}>", f"To: {REP}", "Subject: Re: Proposal",
                     "In-Reply-To: <proposal@team.example>", "References: <proposal@team.example>",
                     "Message-ID: <answer@vandelay.example>", body="Let's talk.")  # fmt: skip
    batch = [fetched(ours, minute=0, sent=True), fetched(answer, minute=30)]
    sync(session, box, *batch)
    sync(session, MailboxFactory(workspace=workspace, email="ben@team.example"), *batch)
    nina = session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()
    events = list(session.scalars(select(Event).order_by(Event.id)))
    assert [(e.type, e.lead_id) for e in events] == [
        (EventType.lead_created, nina.id),
        (EventType.reply_received, nina.id),
    ]
    assert events[1].data["lead"]["email"] == NINA
    assert events[1].data["latency_seconds"] == 30 * 60

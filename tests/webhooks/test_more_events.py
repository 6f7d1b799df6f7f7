"""The events of scoring, sending, bounces, unsubscribes and sequences, as a receiver
gets them: written in the change's transaction, once however often it is replayed, and
set-based where the change is (a rescore of many leads is a few statements, not a loop)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.events import Event, EventType
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.outbox.unsubscribe import Recipient
from inboxcrm.scoring.actions.act import act
from inboxcrm.scoring.rescore import Change
from inboxcrm.sequences.models import ExitReason
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope
from inboxcrm.webhooks.endpoints import SUBSCRIBABLE, create_endpoint
from inboxcrm.webhooks.jobs import drain
from tests.factories import LeadFactory, MailboxFactory, MemberFactory
from tests.support import sequences as seq
from tests.support.database import statements
from tests.support.outbox import Outbox
from tests.support.receiver import Receiver, receiver
from tests.support.signals import fetched, gmail_bounce, message
from tests.support.synced import sync

NEW = [
    "score.crossed",
    "lead.temperature_changed",
    "email.sent",
    "email.bounced",
    "lead.unsubscribed",
    "sequence.exited",
]


def _endpoint(session: Session, settings: Settings, admin: Member, hook: Receiver) -> None:
    endpoint = create_endpoint(
        Scope(session, admin.workspace_id), admin, settings, hook.url, NEW, "", utcnow()
    )
    session.commit()
    hook.secret = endpoint.secret


def _events(session: Session, type: EventType) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type).order_by(Event.id)))


def test_every_new_event_can_be_subscribed_to() -> None:
    assert set(NEW) <= {t.value for t in SUBSCRIBABLE}


@pytest.mark.google
def test_a_sequence_email_sent_and_answered_reaches_the_receiver(
    outbox: Outbox, db: Database, google_settings: Settings
) -> None:
    admin = outbox.mailbox.member
    assert admin is not None
    admin.role = Role.admin
    with receiver() as hook:
        _endpoint(outbox.session, google_settings, admin, hook)
        lead = outbox.lead(name="Ana Lima")
        sequence = seq.sequence(outbox)
        t0 = utcnow()
        enrollment = seq.enrolled(outbox, sequence, lead, t0)
        seq.advance(outbox, t0)
        assert seq.dispatch(outbox, t0 + dt.timedelta(seconds=5)).sent == 1
        first = seq.sends(outbox)[0]
        seq.reply(outbox, first, utcnow())
        seq.sync(outbox)
        seq.sync(outbox)  # a second pass: nothing new, no event twice
        assert drain(db, google_settings, utcnow() + dt.timedelta(hours=1), seconds=None) == 2
        assert all(r.signed for r in hook.received)
        sent, exited = (r.body for r in hook.received)
    assert sent["type"] == "email.sent"
    assert sent["data"]["lead"] == {"id": lead.id, "email": lead.email, "name": "Ana Lima"}
    assert sent["data"]["mailbox"] == {"id": outbox.mailbox.id, "email": outbox.mailbox.email}
    assert sent["data"]["source"] == {"kind": "step", "id": first.source_id}
    assert sent["data"]["subject"] == "Quick question"
    assert (sent["data"]["gmail_id"], sent["data"]["gmail_thread_id"]) == (
        first.gmail_id,
        first.gmail_thread_id,
    )
    assert exited["type"] == "sequence.exited"
    assert exited["data"]["enrollment_id"] == enrollment.id
    assert exited["data"]["sequence"] == {"id": sequence.id, "name": sequence.name}
    assert exited["data"]["reason"] == ExitReason.replied.value
    assert exited["data"]["lead"]["id"] == lead.id


def test_a_bounce_is_an_event_once_with_the_address_and_its_kind(session: Session) -> None:
    box = MailboxFactory(email="ava@northwind.io")
    nina = LeadFactory(owner=box.member, email="nina@vandelay.example")
    ours = message("From: Ava <ava@northwind.io>", "To: nina@vandelay.example",
                   "Subject: Proposal", "Message-ID: <proposal@northwind.io>")  # fmt: skip
    gone = "550 5.1.1 The email account does not exist"
    report = gmail_bounce("ava@northwind.io", "nina@vandelay.example", "<proposal@northwind.io>",
                          status="5.1.1", diagnostic=gone)  # fmt: skip
    batch = [fetched(ours, minute=0, sent=True), fetched(report, thread="t2", minute=5)]
    sync(session, box, *batch)
    sync(session, box, *batch)  # replayed: nothing added, nothing emitted
    bounced = _events(session, EventType.email_bounced)
    assert [e.lead_id for e in bounced] == [nina.id]
    data = bounced[0].data
    assert (data["address"], data["type"], data["lead"]["email"]) == (
        "nina@vandelay.example",
        "hard",
        "nina@vandelay.example",
    )
    assert data["reason"] == "userunknown"


def test_a_one_click_unsubscribe_is_an_event_once(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    lead = LeadFactory(email="nina@vandelay.example")
    box = MailboxFactory(member=lead.owner)
    recipient = Recipient(lead.workspace_id, lead.id, "nina@vandelay.example", box.id, "send-1")
    url = f"/u/{recipient.token(app.secret_key)}"  # type: ignore[arg-type]
    for _ in range(2):  # a mail client retrying
        answer = client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
    session.expire_all()
    [event] = _events(session, EventType.lead_unsubscribed)
    assert event.lead_id == lead.id
    assert event.data == {
        "lead": {"id": lead.id, "email": lead.email, "name": lead.name},
        "address": "nina@vandelay.example",
        "how": "one_click",
    }


def test_a_rescore_says_which_line_a_score_crossed_and_how_the_temperature_changed(
    db: Database, session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as hook:
        _endpoint(session, settings, admin, hook)
        lead = LeadFactory(owner=admin, email="ann@acme.example", name="Ann")
        now = utcnow()
        act(session, admin.workspace_id, [
            Change(lead.id, 10, 55, Temperature.warm, Temperature.hot),
        ], now)  # fmt: skip
        act(session, admin.workspace_id, [Change(lead.id, 55, 30, Temperature.hot, None)], now)
        session.commit()
        assert drain(db, settings, now + dt.timedelta(hours=1), seconds=None) == 3
        crossed, hot, cooled = (r.body for r in hook.received)
    assert crossed["type"] == "score.crossed"
    assert crossed["data"]["lead"] == {"id": lead.id, "email": "ann@acme.example", "name": "Ann"}
    assert (crossed["data"]["score_before"], crossed["data"]["score"]) == (10, 55)
    assert crossed["data"]["lines"] == [
        {"line": "warm", "at": 20},
        {"line": "hot", "at": 50},
        {"line": "action", "at": 50, "rule": "rule: Score ≥ 50"},
    ]
    assert hot["type"] == "lead.temperature_changed"
    assert (hot["data"]["from"], hot["data"]["to"], hot["data"]["score"]) == ("warm", "hot", 55)
    assert (cooled["data"]["from"], cooled["data"]["to"]) == ("hot", None)  # a fall: no crossing


def test_a_rescore_of_many_leads_emits_in_a_few_statements(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    scope = Scope(session, admin.workspace_id)
    stage = list_stages(scope)[0]
    count = 1_200
    session.execute(insert(Lead), [
        {"workspace_id": admin.workspace_id, "email": f"l{i}@many.example", "stage_id": stage.id}
        for i in range(count)
    ])  # fmt: skip
    ids = list(session.scalars(select(Lead.id).where(Lead.workspace_id == admin.workspace_id)))
    changes = [Change(i, 0, 25, None, Temperature.warm) for i in ids]
    sent = statements(session, lambda: act(session, admin.workspace_id, changes, utcnow()))
    inserts = [s for s, _ in sent if s.lstrip().upper().startswith("INSERT INTO EVENT")]
    assert len(inserts) == 1  # one INSERT for both event types
    assert len(sent) < 20  # chunked reads, not a query per lead
    total = session.scalar(select(func.count()).select_from(Event).where(
        Event.workspace_id == admin.workspace_id))  # fmt: skip
    assert total == 2 * count

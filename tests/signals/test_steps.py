"""The detect_signals sync step: synced mail through the real steps (capture first), and
the activities, reply times and bouncing addresses it stores."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import LeadPolicy, Mailbox, Workspace
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LeadEmail
from inboxcrm.mail.models import Message, MessageKind
from inboxcrm.mail.sync import store_fetched
from inboxcrm.setup import SYNC_STEPS
from inboxcrm.signals.steps import detect_signals
from tests.factories import MailboxFactory, WorkspaceFactory
from tests.support.signals import (
    calendar_reply,
    exchange_bounce,
    fetched,
    gmail_bounce,
    ics_reply,
    message,
    out_of_office,
    postfix_bounce,
)
from tests.support.synced import NOW, sync

REP = "rita@team.example"
NINA = "nina@vandelay.example"
SALES = "sales@team.example"


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(domain="team.example")


@pytest.fixture
def box(session: Session, workspace: Workspace) -> Mailbox:
    return MailboxFactory(workspace=workspace, email=REP)


def ours(to: str = NINA, message_id: str = "<proposal@team.example>", **more: str) -> str:
    headers = [f"From: Rita <{REP}>", f"To: {to}", "Subject: Proposal",
               f"Message-ID: {message_id}", *(f"{k}: {v}" for k, v in more.items())]  # fmt: skip
    return message(*headers, body="Here is our proposal.")


def answer(text: str = "Looks good, let's talk.", message_id: str = "<answer@vandelay.example>",
           to: str = REP, refs: str = "<proposal@team.example>") -> str:  # fmt: skip
    return message(f"From: Nina Berg <{NINA}>", f"To: {to}", "Subject: Re: Proposal",
                   f"In-Reply-To: {refs}", f"References: {refs}", f"Message-ID: {message_id}",
                   body=text)  # fmt: skip


def activities(session: Session, kind: ActivityKind | None = None) -> list[Activity]:
    session.expire_all()
    query = select(Activity).order_by(Activity.occurred_at, Activity.id)
    if kind is not None:
        query = query.where(Activity.kind == kind)
    return list(session.scalars(query))


def nina(session: Session) -> Lead:
    session.expire_all()
    return session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()


def address(session: Session, email: str = NINA) -> LeadEmail:
    session.expire_all()
    return session.scalars(select(LeadEmail).where(LeadEmail.email == email)).one()


def test_a_lead_answering_us_is_a_reply_with_its_latency_and_last_replied_at(
    session: Session, box: Mailbox, workspace: Workspace
) -> None:
    sync(session, box, fetched(ours(), minute=0, sent=True), fetched(answer(), minute=90))
    [reply] = activities(session, ActivityKind.reply)
    assert reply.detail["latency_seconds"] == 90 * 60
    assert reply.lead_id == nina(session).id
    assert nina(session).last_replied_at == reply.occurred_at
    # Replayed, and copied in a second mailbox: no second reply.
    ben = MailboxFactory(workspace=workspace, email="ben@team.example")
    sync(session, ben, fetched(ours(), minute=0), fetched(answer(), minute=91))
    assert len(activities(session, ActivityKind.reply)) == 1


def test_a_replayed_batch_adds_no_signal_twice(session: Session, box: Mailbox) -> None:
    batch = [fetched(ours(), minute=0, sent=True), fetched(answer("Please unsubscribe me."),
             minute=30)]  # fmt: skip
    sync(session, box, *batch)
    before = sorted((a.kind, a.lead_id, a.message_id) for a in activities(session))
    assert ActivityKind.unsubscribe in {kind for kind, _, _ in before}
    # The same batch run through the step again (a crash after the steps, say).
    store_fetched(session, box, batch, NOW, SYNC_STEPS)
    from inboxcrm.mail.steps import Batch
    from inboxcrm.mail.store import Added

    rows = session.execute(select(Message.id, Message.thread_id)).tuples().all()
    detect_signals(Batch(session, box, NOW, [Added(i, t) for i, t in rows]))
    session.commit()
    after = sorted((a.kind, a.lead_id, a.message_id) for a in activities(session))
    assert after == before


def test_an_unanswered_first_message_to_a_lead_inbox_is_an_inquiry_not_a_reply(
    session: Session, box: Mailbox, workspace: Workspace
) -> None:
    workspace.lead_policy = LeadPolicy.conversations
    workspace.lead_inboxes = [SALES]
    session.commit()
    first = message(f"From: Nina <{NINA}>", f"To: {SALES}", "Subject: Pricing?",
                    "Message-ID: <ask@vandelay.example>", body="What does it cost?")  # fmt: skip
    sync(session, box, fetched(ours(to=SALES, message_id="<form@team.example>"), minute=0,
                               sent=True), fetched(first, minute=5))  # fmt: skip
    kinds = [a.kind for a in activities(session) if a.kind not in (
        ActivityKind.message_in, ActivityKind.message_out)]  # fmt: skip
    assert kinds == [ActivityKind.inquiry]
    assert activities(session, ActivityKind.inquiry)[0].detail == {"inbox": SALES}
    # Her next message, after the team answered, is a reply.
    sync(session, box, fetched(ours(message_id="<re-ask@team.example>"), minute=60, sent=True),
         fetched(answer(refs="<re-ask@team.example>", message_id="<a2@vandelay.example>",
                        to=SALES), minute=75))  # fmt: skip
    [reply] = activities(session, ActivityKind.reply)
    assert reply.detail["latency_seconds"] == 15 * 60


def test_an_out_of_office_is_no_reply_and_keeps_its_return_date(
    session: Session, box: Mailbox
) -> None:
    ooo = out_of_office(f"Nina <{NINA}>", REP, "Automatic reply: Proposal",
                        "I am out of the office until 7 December 2026.",
                        **{"Auto-Submitted": "auto-replied",
                           "In-Reply-To": "<proposal@team.example>"})  # fmt: skip
    sync(session, box, fetched(ours(), sent=True), fetched(ooo, minute=1))
    assert activities(session, ActivityKind.reply) == []
    [away] = activities(session, ActivityKind.auto_reply)
    assert away.detail == {"return_date": "2026-12-07"}
    assert nina(session).last_replied_at is None


def test_a_hard_bounce_marks_the_address_bouncing_and_names_our_message(
    session: Session, box: Mailbox
) -> None:
    sync(session, box, fetched(ours(), sent=True))
    sync(session, box, fetched(gmail_bounce(REP, NINA, "<proposal@team.example>",
         status="5.1.1", diagnostic="550 5.1.1 The email account that you tried to reach "
         "does not exist."), minute=2))  # fmt: skip
    [bounce] = activities(session, ActivityKind.bounce)
    original = session.scalar(select(Message.id).where(
        Message.rfc_message_id == "<proposal@team.example>"))  # fmt: skip
    assert bounce.detail | {"diagnostic": ""} == {
        "type": "hard", "reason": "userunknown", "status": "5.1.1", "recipient": NINA,
        "diagnostic": "", "original_message_id": "<proposal@team.example>",
        "original_id": original,
    }  # fmt: skip
    email = address(session)
    assert email.bouncing_at == bounce.occurred_at
    assert email.bounce_reason == "userunknown"


def test_three_soft_bounces_in_a_row_count_as_hard_and_mail_from_the_address_resets(
    session: Session, box: Mailbox
) -> None:
    sync(session, box, fetched(ours(), sent=True))

    def full(n: int) -> dict[str, object]:
        raw = postfix_bounce(REP, NINA, "<proposal@team.example>", status="4.2.2",
                             diagnostic="452 4.2.2 Mailbox full")  # fmt: skip
        return fetched(raw, thread=f"b{n}", minute=10 * n)

    sync(session, box, full(1), full(2))
    assert (address(session).soft_bounces, address(session).bouncing_at) == (2, None)
    sync(session, box, fetched(answer(), minute=25))  # she writes: the address works
    assert address(session).soft_bounces == 0
    sync(session, box, full(3), full(4))
    assert address(session).bouncing_at is None
    sync(session, box, full(5))
    email = address(session)
    assert email.soft_bounces == 3
    assert email.bounce_reason == "mailboxfull"
    assert email.bouncing_at is not None
    assert {a.detail["type"] for a in activities(session, ActivityKind.bounce)} == {"soft"}


def test_bad_reports_are_classified_as_best_they_can_and_never_stop_the_sync(
    session: Session, box: Mailbox
) -> None:
    sync(session, box, fetched(ours(), sent=True))
    stranger = exchange_bounce(REP, "someone@elsewhere.example", "<other@team.example>")
    nobody = postfix_bounce(REP, "", "<proposal@team.example>", status="5.1.1",
                            diagnostic="550 5.1.1 User unknown")  # fmt: skip
    garbage = calendar_reply(NINA, REP, "BEGIN:VCALENDAR\n;;;\x01:::", "Accepted?")
    added = sync(session, box, fetched(stranger, thread="x1", minute=1),
                 fetched(nobody, thread="x2", minute=2),
                 fetched(garbage, thread="x3", minute=3))  # fmt: skip
    assert added == 3
    kinds = dict(session.execute(select(Message.gmail_id, Message.kind)).tuples().all())
    assert sorted(kinds.values()).count(MessageKind.bounce) == 2
    # The report naming nobody is about our message to Nina: her address bounces.
    [bounce] = activities(session, ActivityKind.bounce)
    assert bounce.detail["recipient"] == NINA
    assert bounce.detail["type"] == "hard"
    assert address(session).bouncing_at is not None
    assert session.scalar(select(func.count()).select_from(LeadEmail).where(
        LeadEmail.email == "someone@elsewhere.example")) == 0  # fmt: skip


def test_a_lead_accepting_an_invitation_is_a_meeting(session: Session, box: Mailbox) -> None:
    sync(session, box, fetched(ours(), sent=True))
    raw = calendar_reply(f"Nina Berg <{NINA}>", REP, ics_reply(NINA), "Accepted: Demo")
    sync(session, box, fetched(raw, thread="cal", minute=5))
    [meeting] = activities(session, ActivityKind.meeting)
    assert meeting.detail["summary"] == "Demo: Northwind x Vandelay"
    assert meeting.detail["attendee"] == NINA


def test_an_unsubscribe_quoted_below_a_reply_is_no_request(session: Session, box: Mailbox) -> None:
    quoted = answer("Tuesday works.\n\nOn Mon, 23 Nov 2026, Rita wrote:\n> reply 'unsubscribe'"
                    " to stop these emails")  # fmt: skip
    sync(session, box, fetched(ours(), sent=True), fetched(quoted, minute=3))
    assert activities(session, ActivityKind.unsubscribe) == []
    assert len(activities(session, ActivityKind.reply)) == 1


def test_the_lead_page_and_api_show_a_bouncing_address(
    session: Session, box: Mailbox, client: object
) -> None:
    from flask.testing import FlaskClient

    from tests.factories import api_token
    from tests.support.web import sign_in

    assert isinstance(client, FlaskClient)
    sync(session, box, fetched(ours(), sent=True))
    sync(session, box, fetched(exchange_bounce(REP, NINA, "<proposal@team.example>"), minute=1))
    lead = nina(session)
    sign_in(client, box.member)
    page = client.get(f"/leads/{lead.id}")
    assert page.status_code == 200
    assert "data-bouncing" in page.text
    assert "userunknown" in page.text
    token = api_token(box.member)
    body = client.get(f"/api/v1/leads/{lead.id}",
                      headers={"Authorization": f"Bearer {token}"}).get_json()  # fmt: skip
    [entry] = body["addresses"]
    assert entry["email"] == NINA
    assert entry["bouncing"] is True
    assert entry["bounce_reason"] == "userunknown"
    assert dt.datetime.fromisoformat(entry["bouncing_at"]) == address(session).bouncing_at

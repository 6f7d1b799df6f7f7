"""Scores that act: synced mail through the real steps moves a lead whose score reaches
the line (recorded as moved by the rule), a lead turning hot notifies its owner once, a
lead asking to stop receiving email is flagged, and a new inbound lead left waiting is
reported by the clock's check, unless the team answered in time."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Role, Workspace
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.mail.models import Message
from inboxcrm.mail.steps import Batch
from inboxcrm.mail.store import Added
from inboxcrm.notifications.models import NoticeKind, Notification
from inboxcrm.scoring.actions.models import InboundWait
from inboxcrm.scoring.actions.settings import save
from inboxcrm.scoring.actions.waits import check_waits
from inboxcrm.scoring.steps import score_leads
from inboxcrm.stages.models import ChangeSource, StageChange
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MailboxFactory, MemberFactory, WorkspaceFactory
from tests.support.signals import fetched, message
from tests.support.stages import stages
from tests.support.synced import START_MS, sync

REP = "rita@team.example"
NINA = "nina@vandelay.example"
SALES = "sales@team.example"
START = dt.datetime.fromtimestamp(START_MS / 1000, dt.UTC)  # minute 0 of the mail below
SOON = START + dt.timedelta(hours=3)


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(domain="team.example")


@pytest.fixture
def box(session: Session, workspace: Workspace) -> Mailbox:
    return MailboxFactory(workspace=workspace, email=REP)


def fit_lead(owner: Member) -> Lead:
    """Nina, a decision-maker whose budget, authority, need and timeline are known: 25 fit
    points, before any mail."""
    return LeadFactory(owner=owner, email=NINA, name="Nina Berg", title="VP Sales",
                       budget="40k", authority="signs", need="CRM", timeline="Q1")  # fmt: skip


def ours(message_id: str, to: str = NINA) -> str:
    return message(f"From: Rita <{REP}>", f"To: {to}", "Subject: Proposal",
                   f"Message-ID: {message_id}", body="Here is our proposal.")  # fmt: skip


def answer(refs: str, message_id: str, text: str = "Looks good, let's talk.") -> str:
    return message(f"From: Nina Berg <{NINA}>", f"To: {REP}", "Subject: Re: Proposal",
                   f"In-Reply-To: {refs}", f"References: {refs}", f"Message-ID: {message_id}",
                   body=text)  # fmt: skip


def first_reply(session: Session, box: Mailbox) -> None:
    sync(session, box, fetched(ours("<p1@team.example>"), minute=0, sent=True),
         fetched(answer("<p1@team.example>", "<a1@vandelay.example>"), minute=30),
         now=SOON)  # fmt: skip


def second_reply() -> list[dict[str, object]]:
    return [fetched(ours("<p2@team.example>"), minute=60, sent=True),
            fetched(answer("<p2@team.example>", "<a2@vandelay.example>"), minute=90)]  # fmt: skip


def notices(session: Session, kind: NoticeKind | None = None) -> list[Notification]:
    session.expire_all()
    query = select(Notification).order_by(Notification.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return list(session.scalars(query).unique())


def nina(session: Session) -> Lead:
    session.expire_all()
    return session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()


def test_a_reply_that_lifts_a_lead_over_50_moves_it_to_mql_and_notifies_it_turned_hot(
    session: Session, box: Mailbox
) -> None:
    fit_lead(box.member)
    first_reply(session, box)
    assert (nina(session).score, nina(session).stage.name) == (40, "Lead")
    assert notices(session) == []
    sync(session, box, *second_reply(), now=SOON)
    lead = nina(session)
    assert (lead.score, lead.temperature, lead.stage.name) == (55, Temperature.hot, "MQL")
    [change] = session.scalars(select(StageChange).where(StageChange.lead_id == lead.id)).all()
    assert (change.source, change.detail, change.member_id) == (
        ChangeSource.rule, "rule: Score ≥ 50", None)  # fmt: skip
    [hot] = notices(session)
    assert (hot.kind, hot.member_id, hot.lead_id) == (NoticeKind.hot, box.member_id, lead.id)
    assert hot.text == "Nina Berg turned hot (score 55)"
    assert hot.read_at is None


def test_a_replayed_batch_notifies_and_moves_nothing_more(session: Session, box: Mailbox) -> None:
    fit_lead(box.member)
    first_reply(session, box)
    batch = second_reply()
    sync(session, box, *batch, now=SOON)
    sync(session, box, *batch, now=SOON + dt.timedelta(minutes=1))  # the same Gmail ids
    # And the scoring step again over every stored message (a crash after the steps).
    rows = session.execute(select(Message.id, Message.thread_id)).tuples().all()
    score_leads(Batch(session, box, SOON + dt.timedelta(minutes=2), [Added(i, t) for i, t in rows]))
    session.commit()
    assert len(notices(session, NoticeKind.hot)) == 1
    assert len(session.scalars(select(StageChange)).all()) == 1


def test_an_unowned_lead_turning_hot_notifies_the_admins(
    session: Session, box: Mailbox, workspace: Workspace
) -> None:
    admins = [MemberFactory(workspace=workspace, role=Role.admin) for _ in range(2)]
    MemberFactory(workspace=workspace, role=Role.rep)
    lead = fit_lead(box.member)
    lead.owner_id = None
    session.commit()
    first_reply(session, box)
    sync(session, box, *second_reply(), now=SOON)
    assert sorted(n.member_id for n in notices(session, NoticeKind.hot)) == sorted(
        a.id for a in admins
    )


def test_the_rule_never_moves_a_lead_out_of_won_or_backwards(
    session: Session, box: Mailbox
) -> None:
    lead = fit_lead(box.member)
    lead.stage_id = stages(session, box.member)["Won"].id
    session.commit()
    first_reply(session, box)
    sync(session, box, *second_reply(), now=SOON)
    assert (nina(session).score, nina(session).stage.name) == (55, "Won")
    assert session.scalars(select(StageChange)).all() == []


def test_the_rule_follows_the_workspace_settings(session: Session, box: Mailbox) -> None:
    by_name = stages(session, box.member)
    admin = MemberFactory(workspace=box.member.workspace, role=Role.admin)
    changes = {"move_score": "40", "move_to_id": by_name["SQL"].id, "notify_hot": False}
    save(Scope(session, admin.workspace_id), admin, changes, SOON)
    session.commit()
    fit_lead(box.member)
    first_reply(session, box)
    assert nina(session).stage.name == "SQL"
    [change] = session.scalars(select(StageChange)).all()
    assert change.detail == "rule: Score ≥ 40"
    sync(session, box, *second_reply(), now=SOON)
    assert nina(session).temperature is Temperature.hot
    assert notices(session) == []  # turned off


def test_a_lead_asking_to_stop_receiving_email_is_flagged_for_its_owner(
    session: Session, box: Mailbox
) -> None:
    fit_lead(box.member)
    batch = [fetched(ours("<p1@team.example>"), minute=0, sent=True),
             fetched(answer("<p1@team.example>", "<a1@vandelay.example>",
                            "Please remove me from your list."), minute=30)]  # fmt: skip
    sync(session, box, *batch, now=SOON)
    sync(session, box, *batch, now=SOON)
    [flag] = notices(session, NoticeKind.unsubscribe)
    assert (flag.member_id, flag.text) == (box.member_id, "Nina Berg asked to stop receiving email")


# --- a new inbound lead waiting for an answer --------------------------------------------


def inquiry() -> dict[str, object]:
    return fetched(message(f"From: Nina Berg <{NINA}>", f"To: {SALES}", "Subject: Pricing?",
                           "Message-ID: <ask@vandelay.example>", body="What does it cost?"),
                   minute=0)  # fmt: skip


@pytest.fixture
def inbox(session: Session, workspace: Workspace) -> Workspace:
    workspace.lead_inboxes = [SALES]
    session.commit()
    return workspace


def test_an_unanswered_inquiry_notifies_once_the_wait_has_passed(
    db: Database, session: Session, box: Mailbox, inbox: Workspace
) -> None:
    fit_lead(box.member)
    sync(session, box, inquiry(), now=START + dt.timedelta(minutes=2))
    [wait] = session.scalars(select(InboundWait)).all()
    assert (wait.since, wait.check_at) == (START, START + dt.timedelta(minutes=45))
    assert check_waits(db, START + dt.timedelta(minutes=44)) == 0
    assert notices(session) == []
    assert check_waits(db, START + dt.timedelta(minutes=46)) == 1
    [waiting] = notices(session, NoticeKind.waiting)
    assert waiting.member_id == box.member_id
    assert waiting.text == "Nina Berg, a new inbound lead, has waited 46 minutes without an answer"
    assert check_waits(db, START + dt.timedelta(hours=2)) == 0  # checked once
    assert len(notices(session)) == 1


def test_an_inquiry_answered_in_time_notifies_nobody(
    db: Database, session: Session, box: Mailbox, inbox: Workspace
) -> None:
    fit_lead(box.member)
    sync(session, box, inquiry(), now=START + dt.timedelta(minutes=2))
    reply = message(f"From: Rita <{REP}>", f"To: {NINA}", "Subject: Re: Pricing?",
                    "In-Reply-To: <ask@vandelay.example>", "Message-ID: <price@team.example>",
                    body="Here are our prices.")  # fmt: skip
    sync(session, box, fetched(reply, minute=20, sent=True), now=START + dt.timedelta(minutes=21))
    assert check_waits(db, START + dt.timedelta(minutes=50)) == 1
    assert notices(session) == []
    assert session.scalars(select(InboundWait)).all() == []


def test_the_wait_is_the_workspace_setting_and_old_inquiries_wait_for_nothing(
    db: Database, session: Session, box: Mailbox, inbox: Workspace
) -> None:
    admin = MemberFactory(workspace=inbox, role=Role.admin)
    save(Scope(session, inbox.id), admin, {"wait_minutes": "10"}, START)
    session.commit()
    fit_lead(box.member)
    sync(session, box, inquiry(), now=START + dt.timedelta(minutes=1))
    assert session.scalars(select(InboundWait.check_at)).all() == [START + dt.timedelta(minutes=10)]
    # A first sync reading last month's mail: that inquiry is history, not a waiting lead.
    old = message("From: Omar <omar@acme.example>", f"To: {SALES}", "Subject: Demo?",
                  "Message-ID: <demo@acme.example>", body="Can we see a demo?")  # fmt: skip
    sync(session, box, fetched(old, minute=5, thread="t2"), now=START + dt.timedelta(days=30))
    assert session.scalars(select(Lead.email).where(Lead.email == "omar@acme.example")).all()
    assert len(session.scalars(select(InboundWait)).all()) == 1  # Nina's only

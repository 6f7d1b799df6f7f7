"""Scores made real: synced mail through the real steps (capture, signals, scoring), the
awards stored with their reasons, temperature and its history, and the clock job that
lets a quiet lead go cold with no new mail."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Role, Workspace
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.leads.schemas import LeadUpdate
from inboxcrm.leads.service import update_lead
from inboxcrm.mail.models import Message
from inboxcrm.mail.steps import Batch
from inboxcrm.mail.store import Added
from inboxcrm.scoring.jobs import rescore_queued
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.scoring.steps import score_leads
from inboxcrm.scoring.stored import award, rules_of
from inboxcrm.tenancy import Scope
from tests.factories import MailboxFactory, MemberFactory, WorkspaceFactory
from tests.support.signals import fetched, gmail_bounce, message, out_of_office
from tests.support.synced import START_MS, sync

REP = "rita@team.example"
NINA = "nina@vandelay.example"
START = dt.datetime.fromtimestamp(START_MS / 1000, dt.UTC)  # minute 0 of the mail below
SOON = START + dt.timedelta(hours=3)  # the sync's now, shortly after the mail


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(domain="team.example")


@pytest.fixture
def box(session: Session, workspace: Workspace) -> Mailbox:
    return MailboxFactory(workspace=workspace, email=REP)


def ours(message_id: str = "<proposal@team.example>") -> str:
    return message(f"From: Rita <{REP}>", f"To: {NINA}", "Subject: Proposal",
                   f"Message-ID: {message_id}", body="Here is our proposal.")  # fmt: skip


def answer(refs: str = "<proposal@team.example>", message_id: str = "<a1@vandelay.example>") -> str:
    return message(f"From: Nina Berg <{NINA}>", f"To: {REP}", "Subject: Re: Proposal",
                   f"In-Reply-To: {refs}", f"References: {refs}", f"Message-ID: {message_id}",
                   body="Looks good, let's talk.")  # fmt: skip


def nina(session: Session) -> Lead:
    session.expire_all()
    return session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()


def events(session: Session) -> list[tuple[int, str, int, str]]:
    """Each stored event with its points and reason as read, by its lead's rules."""
    session.expire_all()
    rows = session.scalars(select(ScoreEvent).order_by(ScoreEvent.awarded_at, ScoreEvent.id))
    read = []
    for e in rows:
        lead = session.get_one(Lead, e.lead_id)
        rules = rules_of(session, lead.workspace_id, lead.scored_with)
        a = award(rules, e.rule, e.part, e.points, e.awarded_at, e.half_life_days, e.reason,
                  e.activity_id)  # fmt: skip
        read.append((e.id, e.rule, a.points, a.reason))
    return read


def two_quick_replies(session: Session, box: Mailbox) -> None:
    sync(session, box, fetched(ours(), minute=0, sent=True), fetched(answer(), minute=90),
         now=SOON)  # fmt: skip
    sync(session, box, fetched(ours("<p2@team.example>"), minute=120, sent=True),
         fetched(answer("<p2@team.example>", "<a2@vandelay.example>"), minute=150),
         now=SOON)  # fmt: skip


def test_a_reply_scores_with_its_reason_after_one_pass(session: Session, box: Mailbox) -> None:
    sync(session, box, fetched(ours(), minute=0, sent=True), fetched(answer(), minute=90),
         now=SOON)  # fmt: skip
    assert [(rule, points, reason) for _, rule, points, reason in events(session)] == [
        ("reply", 10, "Replied within 2 h to 'Proposal' +10, halves every 30 days"),
        ("quick_reply", 5, "Replied within 2 h to 'Proposal' +5, halves every 30 days"),
    ]
    lead = nina(session)
    assert lead.score == 15  # an hour and a half later: hardly faded
    assert lead.temperature is None  # not warm yet
    assert lead.rescore_at is not None
    assert lead.rescore_at > SOON


def test_an_out_of_office_earns_nothing(session: Session, box: Mailbox) -> None:
    away = out_of_office(f"Nina <{NINA}>", REP, "Automatic reply: Proposal",
                         "I am out of the office until 7 December 2026.",
                         **{"Auto-Submitted": "auto-replied",
                            "In-Reply-To": "<proposal@team.example>"})  # fmt: skip
    sync(session, box, fetched(ours(), sent=True), fetched(away, minute=1), now=SOON)
    assert events(session) == []
    assert (nina(session).score, nina(session).temperature) == (0, None)


def test_a_hard_bounce_costs_points(session: Session, box: Mailbox) -> None:
    two_quick_replies(session, box)
    assert nina(session).score == 30
    report = gmail_bounce(REP, NINA, "<p3@team.example>", status="5.1.1",
                          diagnostic="550 5.1.1 The email account does not exist.")  # fmt: skip
    sync(session, box, fetched(ours("<p3@team.example>"), minute=160, sent=True),
         fetched(report, minute=161), now=SOON)  # fmt: skip
    assert [r for _, r, _, _ in events(session)][-1] == "bounce"
    assert nina(session).score == 10


def test_a_warm_lead_quiet_for_14_days_turns_cold_on_the_clock(
    db: Database, session: Session, box: Mailbox
) -> None:
    two_quick_replies(session, box)
    lead = nina(session)
    assert (lead.score, lead.temperature, lead.temperature_changed_at) == (
        30, Temperature.warm, SOON)  # fmt: skip
    assert lead.rescore_at is not None
    # Nothing is due before the next look.
    assert rescore_queued(db, lead.rescore_at - dt.timedelta(minutes=1)) == 0
    later = START + dt.timedelta(days=14, hours=3)
    for step in range(14):  # the clock, once a day, a little late
        rescore_queued(db, SOON + dt.timedelta(days=step, minutes=5))
    assert nina(session).temperature is Temperature.warm  # 13 days and a bit: still warm
    assert rescore_queued(db, later) == 1
    lead = nina(session)
    assert lead.temperature is Temperature.cold
    assert lead.temperature_changed_at == later
    changes = session.execute(
        select(TemperatureChange.from_temperature, TemperatureChange.to_temperature)
        .order_by(TemperatureChange.changed_at)
    ).tuples().all()  # fmt: skip
    assert changes == [(None, Temperature.warm), (Temperature.warm, Temperature.cold)]
    assert lead.rescore_at is None or lead.rescore_at > later
    assert len(events(session)) == 4  # the awards stay; they are worth less today


def test_a_replayed_batch_changes_nothing(session: Session, box: Mailbox) -> None:
    two_quick_replies(session, box)
    before = events(session), nina(session).score, nina(session).rescore_at
    rows = session.execute(select(Message.id, Message.thread_id)).tuples().all()
    batch = Batch(session, box, SOON, [Added(i, t) for i, t in rows])
    score_leads(batch)
    score_leads(batch)
    session.commit()
    assert (events(session), nina(session).score, nina(session).rescore_at) == before
    assert len(session.scalars(select(TemperatureChange)).all()) == 1


def test_a_lead_given_a_decision_makers_title_is_rescored_by_the_clock(
    db: Database, session: Session, box: Mailbox
) -> None:
    two_quick_replies(session, box)
    lead = nina(session)
    before, admin = lead.score, MemberFactory(workspace=box.member.workspace, role=Role.admin)
    update_lead(Scope(session, lead.workspace_id), lead, LeadUpdate(title="VP Sales"), admin, SOON)
    session.commit()
    assert rescore_queued(db, SOON) == 1
    assert nina(session).score == before + 10  # the decision-maker title's fit points
    assert "senior_title" in [rule for _, rule, _, _ in events(session)]


def test_a_history_synced_in_one_go_shows_a_lead_that_went_quiet_as_cold(
    session: Session, box: Mailbox
) -> None:
    # A first sync a month after the mail: she was warm then (30 points), quiet since.
    month = START + dt.timedelta(days=30)
    sync(session, box, fetched(ours(), minute=0, sent=True), fetched(answer(), minute=90),
         fetched(ours("<p2@team.example>"), minute=120, sent=True),
         fetched(answer("<p2@team.example>", "<a2@vandelay.example>"), minute=150),
         now=month)  # fmt: skip
    lead = nina(session)
    assert (lead.temperature, lead.temperature_changed_at) == (Temperature.cold, month)
    changes = session.execute(
        select(TemperatureChange.from_temperature, TemperatureChange.to_temperature)
    ).tuples().all()  # fmt: skip
    assert changes == [(None, Temperature.cold)]


def test_a_lead_that_never_got_warm_has_no_temperature_when_its_history_syncs(
    session: Session, box: Mailbox
) -> None:
    # One slow reply (10 points) a month ago: never warm, so never cold either.
    sync(session, box, fetched(ours(), minute=0, sent=True), fetched(answer(), minute=60 * 30),
         now=START + dt.timedelta(days=30))  # fmt: skip
    lead = nina(session)
    assert (lead.score, lead.temperature) == (5, None)

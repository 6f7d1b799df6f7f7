"""The demo's scores mean something: its seeded mail, synced once by the real steps,
gives hot, warm and cold leads, a bounced address, a meeting, an out-of-office with its
return date and reasons that name the conversations; a lead's new answer moves its
score."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.db import Database
from inboxcrm.demo import seed, team
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LeadEmail, Temperature
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.sandbox.seed import answer_one
from inboxcrm.scoring.models import ScoreEvent
from tests.factories import MailboxFactory
from tests.support.passes import sync_pass
from tests.support.sandbox import Control

pytestmark = pytest.mark.google


def synced_demo(
    db: Database, session: Session, control: Control, gmail: Callable[..., Any]
) -> list[Mailbox]:
    control("reset", {"seed": "demo"})
    workspace = seed(session, dt.datetime.now(dt.UTC))
    boxes = [MailboxFactory(member=m, workspace=workspace, email=m.email)
             for m in team(session, workspace)]  # fmt: skip
    session.commit()
    for box in boxes:
        sync_pass(db, box, gmail, control)
    session.expire_all()
    return boxes


def test_the_synced_demo_has_hot_warm_and_cold_leads_with_reasons(
    db: Database, session: Session, control: Control, gmail: Callable[..., Any]
) -> None:
    synced_demo(db, session, control, gmail)
    leads = session.scalars(select(Lead).where(Lead.source != "manual")).unique().all()
    temperatures = {lead.temperature for lead in leads}
    assert {Temperature.hot, Temperature.warm, Temperature.cold} <= temperatures
    scores = sorted({lead.score for lead in leads})
    assert len(scores) >= 8
    assert scores[-1] >= 50
    hot = next(lead for lead in leads if lead.temperature is Temperature.hot)
    reasons = session.scalars(select(ScoreEvent.reason).where(ScoreEvent.lead_id == hot.id)).all()
    assert any(f"to '{hot.company.name} <> Northwind: a demo of Northwind'" in r for r in reasons)
    assert any(r.startswith("Accepted a meeting") for r in reasons)


def test_the_synced_demo_has_bounces_meetings_and_out_of_office_dates(
    db: Database, session: Session, control: Control, gmail: Callable[..., Any]
) -> None:
    synced_demo(db, session, control, gmail)
    kinds = {kind: [a for a in session.scalars(select(Activity).where(Activity.kind == kind))]
             for kind in (ActivityKind.bounce, ActivityKind.meeting, ActivityKind.auto_reply,
                          ActivityKind.inquiry, ActivityKind.unsubscribe)}  # fmt: skip
    assert {a.detail["type"] for a in kinds[ActivityKind.bounce]} == {"hard", "soft"}
    bouncing = session.scalars(select(LeadEmail).where(LeadEmail.bouncing_at.is_not(None))).all()
    assert bouncing
    assert {a.detail["source"] for a in kinds[ActivityKind.meeting]} == {"calendar", "subject"}
    away = kinds[ActivityKind.auto_reply]
    assert away
    assert all(a.detail.get("return_date") for a in away)
    assert kinds[ActivityKind.inquiry]
    assert kinds[ActivityKind.unsubscribe]


def test_a_lead_answering_in_the_live_demo_moves_its_score(
    db: Database,
    session: Session,
    control: Control,
    gmail: Callable[..., Any],
    sandbox: RunningSandbox,
) -> None:
    boxes = synced_demo(db, session, control, gmail)
    answered = answer_one(sandbox.state)
    assert answered is not None
    sender = answered.parsed.header("from").rsplit("<", 1)[-1].rstrip(">").lower()
    lead = session.scalars(select(Lead).where(Lead.email == sender)).unique().one()
    before = lead.score
    for box in boxes:
        sync_pass(db, box, gmail, control)
    session.expire_all()
    assert session.get_one(Lead, lead.id).score > before
    reasons = session.scalars(select(ScoreEvent.reason).where(ScoreEvent.lead_id == lead.id))
    assert any(r.startswith("Replied within") for r in reasons)

"""From mail arriving in the sandbox's Gmail, through one real sync pass, to signals: a
lead's reply with its latency, an out-of-office with its return date and no reply, and
a bounce that marks the lead's address bouncing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import SyncState, Workspace
from inboxcrm.db import Database
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LeadEmail
from tests.factories import MailboxFactory, WorkspaceFactory
from tests.support.mail import ANSWER, PROPOSAL
from tests.support.passes import sync_pass
from tests.support.sandbox import AVA, Control, deliver
from tests.support.signals import gmail_bounce, out_of_office

pytestmark = pytest.mark.google
NINA = "nina.berg@vandelay.co.uk"


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(domain="northwind.io")


def kinds(session: Session) -> dict[ActivityKind, list[Activity]]:
    session.expire_all()
    found: dict[ActivityKind, list[Activity]] = {}
    for activity in session.scalars(select(Activity).order_by(Activity.id)):
        found.setdefault(activity.kind, []).append(activity)
    return found


def test_a_reply_an_out_of_office_and_a_bounce_after_one_pass_each(
    db: Database,
    session: Session,
    workspace: Workspace,
    control: Control,
    gmail: Callable[..., Any],
) -> None:
    ava = MailboxFactory(workspace=workspace, email=AVA)
    deliver(control, AVA, PROPOSAL, sent=True)
    control("clock", {"advance": 25 * 3600})  # Gmail's time of a message is its arrival
    deliver(control, AVA, ANSWER)  # she answers, 25 hours later
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    found = kinds(session)
    [reply] = found[ActivityKind.reply]
    assert reply.detail["latency_seconds"] == 25 * 3600
    lead = session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()
    assert lead.last_replied_at == reply.occurred_at

    # She is away: her out-of-office is no reply, and its return date is kept.
    away = out_of_office(f'"Berg, Nina" <{NINA}>', AVA, "Automatic reply: Proposal",
                         "Ich bin bis einschließlich 5. Januar 2027 nicht im Büro.",
                         **{"Auto-Submitted": "auto-replied",
                            "In-Reply-To": "<proposal@northwind.io>"})  # fmt: skip
    deliver(control, AVA, away)
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    found = kinds(session)
    assert len(found[ActivityKind.reply]) == 1
    assert [a.detail for a in found[ActivityKind.auto_reply]] == [{"return_date": "2027-01-05"}]

    # Then her mailbox is gone: the bounce marks her address.
    deliver(
        control,
        AVA,
        gmail_bounce(
            AVA,
            NINA,
            "<proposal@northwind.io>",
            status="5.1.1",
            diagnostic="550 5.1.1 The email account that you tried to reach does not exist.",
        ),
    )
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    found = kinds(session)
    [bounce] = found[ActivityKind.bounce]
    assert (bounce.detail["type"], bounce.detail["reason"]) == ("hard", "userunknown")
    email = session.scalars(select(LeadEmail).where(LeadEmail.email == NINA)).one()
    assert email.bouncing_at is not None
    assert email.bounce_reason == "userunknown"

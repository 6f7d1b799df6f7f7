"""From mail arriving in the sandbox's Gmail, through one real sync pass with every step,
to a lead's score and the reason for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import SyncState
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.models import ScoreEvent
from tests.factories import MailboxFactory, WorkspaceFactory
from tests.support.mail import ANSWER, PROPOSAL
from tests.support.passes import sync_pass
from tests.support.sandbox import AVA, Control, deliver

pytestmark = pytest.mark.google
NINA = "nina.berg@vandelay.co.uk"


def test_a_reply_scores_after_one_pass_and_a_second_pass_changes_nothing(
    db: Database, session: Session, control: Control, gmail: Callable[..., Any]
) -> None:
    ava = MailboxFactory(workspace=WorkspaceFactory(domain="northwind.io"), email=AVA)
    deliver(control, AVA, PROPOSAL, sent=True)
    control("clock", {"advance": 25 * 3600})
    deliver(control, AVA, ANSWER)  # she answers, 25 hours later: a reply, not a quick one
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    session.expire_all()
    lead = session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()
    assert lead.score == 10
    [event] = session.scalars(select(ScoreEvent)).all()
    assert (event.rule, event.lead_id, event.activity_id is not None) == ("reply", lead.id, True)
    assert event.reason.startswith("Replied within 25 h")
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    session.expire_all()
    assert [e.id for e in session.scalars(select(ScoreEvent))] == [event.id]

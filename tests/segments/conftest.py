from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.leads.models import ActivityKind, Lead
from inboxcrm.tenancy import Scope
from tests.factories import ActivityFactory, LeadFactory, MemberFactory

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def marketer(session: Session) -> Member:
    return MemberFactory(role=Role.marketer, name="Mia Marketer")


@pytest.fixture
def scope(session: Session, marketer: Member) -> Scope:
    return Scope(session, marketer.workspace_id)


@pytest.fixture
def people(session: Session, marketer: Member) -> dict[str, Lead]:
    """A small book: who replied lately, who bounced, who has which title and tag."""
    rep = MemberFactory(workspace=marketer.workspace, name="Rita Rep")
    ann = LeadFactory(owner=rep, name="Ann Archer", company="Acme Corp", title="CFO", tags=["vip"])
    bob = LeadFactory(owner=rep, name="Bob Baker", company="Globex", deal_value="5000")
    cid = LeadFactory(owner=marketer, name="Cid Cole", title="Engineer", email="cid.cole@gmail.com")
    ActivityFactory(lead=ann, kind=ActivityKind.reply, at=NOW - dt.timedelta(days=3))
    ActivityFactory(lead=bob, kind=ActivityKind.reply, at=NOW - dt.timedelta(days=60))
    ActivityFactory(lead=cid, kind=ActivityKind.bounce, at=NOW - dt.timedelta(days=1))
    for lead, score in ((ann, 70), (bob, 20), (cid, 45)):
        lead.score = score
    session.commit()
    return {"ann": ann, "bob": bob, "cid": cid}

"""Building stage histories by hand for board and funnel tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import Lead
from inboxcrm.leads.moves import move_lead
from inboxcrm.stages.models import ChangeSource, Stage
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def stages(session: Session, member: Member) -> dict[str, Stage]:
    return {s.name: s for s in list_stages(Scope(session, member.workspace_id))}


def move(
    session: Session, lead: Lead, stage: Stage, at: dt.datetime, by: Member | None = None
) -> None:
    move_lead(
        Scope(session, lead.workspace_id),
        lead,
        stage,
        source=ChangeSource.member if by else ChangeSource.label,
        now=at,
        member_id=by.id if by else None,
        detail="" if by else "rep@team.example",
    )
    session.commit()

"""The pipeline's stages as tests name them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.stages.models import Stage
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday morning


def stages(session: Session, member: Member) -> dict[str, Stage]:
    """The member's workspace's stages by name."""
    return {s.name: s for s in list_stages(Scope(session, member.workspace_id))}

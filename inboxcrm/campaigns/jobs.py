"""The campaigns' clock tick: launched campaigns move on as their sends do (scheduled to
sending when the first is due, sending to done when none waits). Idempotent: each move is
a conditional UPDATE, so two clocks at once move a campaign once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inboxcrm.campaigns.models import Campaign, CampaignState
from inboxcrm.campaigns.service import settle
from inboxcrm.runtime import Runtime
from inboxcrm.tenancy import Scope

SETTLE_TICK = dt.timedelta(minutes=1)


def settle_due(runtime: Runtime, now: dt.datetime) -> int:
    with runtime.database.session() as session:
        found = list(
            session.scalars(
                select(Campaign).where(
                    Campaign.state.in_((CampaignState.scheduled, CampaignState.sending))
                )
            )
        )
        for campaign in found:
            settle(Scope(session, campaign.workspace_id), campaign, now)
            session.commit()
    return len(found)

"""The demo's marketing: two segments, a draft ready to launch, and a campaign sent last
week whose page shows what the audience did (people's opens and clicks apart from the
machines', replies on the leads' threads, a hard and a soft bounce, an unsubscribe)."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.campaigns.models import Campaign, CampaignState
from inboxcrm.campaigns.stats import stats
from inboxcrm.demo import seed, team
from inboxcrm.demo_campaigns import seed_campaigns
from inboxcrm.segments import service
from inboxcrm.segments.filters import parse
from inboxcrm.segments.models import Segment
from inboxcrm.tenancy import Scope
from tests.support.web import sign_in

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def test_the_demo_has_a_finished_campaign_with_results_and_a_draft(
    session: Session, client: FlaskClient
) -> None:
    workspace = seed(session, NOW)
    admin = team(session, workspace)[0]
    seed_campaigns(session, workspace, admin, NOW)
    seed_campaigns(session, workspace, admin, NOW)  # a restart changes nothing
    session.commit()
    scope = Scope(session, workspace.id)
    assert session.scalar(select(func.count()).select_from(Segment)) == 3
    done, draft = sorted(session.scalars(select(Campaign)), key=lambda c: c.state.value)
    assert (done.state, draft.state) == (CampaignState.done, CampaignState.draft)
    found = stats(scope, done, NOW)
    assert found.sent == done.planned > 10
    assert found.opens > 0
    assert found.clicks > 0
    assert found.machine_opens > found.opens  # most opens are machines'
    assert (found.replies, found.bounced_hard, found.bounced_soft) == (2, 1, 1)
    assert found.unsubscribes == 1
    # Who opened it and said nothing: the opens and replies name their Sends.
    follow_up = session.scalars(select(Segment).where(Segment.name.startswith("Opened"))).one()
    node = parse(follow_up.filter)
    assert 0 < service.count(scope, node, NOW) <= found.opens
    replied = parse(
        {"field": "activity", "kind": "reply", "op": "ever", "of": {"campaign": done.id}}
    )
    assert service.count(scope, replied, NOW) == 2
    sign_in(client, admin)
    page = client.get(f"/campaigns/{done.id}")
    assert page.status_code == 200
    replier = found.reply_list[0]
    assert replier.lead in page.text
    lead_page = client.get(f"/leads/{replier.lead_id}")
    assert "what is new at Northwind" in lead_page.text
    draft_page = client.get(f"/campaigns/{draft.id}")
    assert "Launch" in draft_page.text
    assert "connect" in draft_page.text.lower()  # Ava's Gmail is connected at sign-in

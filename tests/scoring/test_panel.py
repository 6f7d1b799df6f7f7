"""Why this score on the lead page itself: the score panel (engagement and fit apart, the
newest awards with their worth today, the 90-day chart); and the last engagement, in the
leads table (sortable, highest score first) and the API."""

from __future__ import annotations

import datetime as dt
import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.db import utcnow
from inboxcrm.leads.models import ActivityKind, Lead
from inboxcrm.scoring.rescore import rescore
from tests.factories import ActivityFactory, LeadFactory, MemberFactory, api_token
from tests.support.web import sign_in

DAY = dt.timedelta(days=1)


def engaged(session: Session, owner: Member, *days_ago: float, **fields: str) -> Lead:
    """A lead who accepted a meeting on each of those days ago, rescored."""
    lead = LeadFactory(owner=owner, **fields)
    for days in days_ago:
        ActivityFactory(lead=lead, kind=ActivityKind.meeting, at=utcnow() - days * DAY)
    rescore(session, lead.workspace_id, [lead.id], utcnow())
    session.commit()
    session.refresh(lead)
    return lead


def test_the_lead_page_shows_the_score_panel(session: Session, client: FlaskClient) -> None:
    rep = MemberFactory()
    lead = engaged(session, rep, 60, 20, 10, 5, 3, 1, title="VP Sales")
    sign_in(client, rep)
    page = client.get(f"/leads/{lead.id}").text
    panels = page[page.index('<section class="panels">') :]
    panel = panels[: panels.index("<h2>Responsiveness")]
    assert f"Score {lead.score}" in panel
    assert re.search(r"data-fit>10\.0<", panel)
    assert re.search(r"data-engagement>\d+\.\d<", panel)
    # The newest five of seven awards, newest first, each with its worth today
    shown = re.findall(r'data-rule="(\w+)"', panel)
    assert len(shown) == 5
    worth = [float(w) for w in re.findall(r"data-worth>([+-]\d+\.\d) today", panel)]
    assert shown[0] == "senior_title"  # given when it was first seen: today
    assert worth[0] == 10.0  # fit never fades
    assert worth[1:] == sorted(worth[1:], reverse=True)  # the same points, fading with age
    assert "Accepted a meeting +20, halves every 45 days" in panel
    assert "2 more: the whole score" in panel
    assert f'href="/leads/{lead.id}/score"' in panel
    assert "<svg" in panel
    assert "<polyline" in panel
    assert "data-last-engaged" in panel


def test_a_lead_never_scored_says_so(session: Session, client: FlaskClient) -> None:
    rep = MemberFactory()
    lead = LeadFactory(owner=rep)
    sign_in(client, rep)
    page = client.get(f"/leads/{lead.id}").text
    assert "Nothing has earned or cost points yet." in page
    assert "the whole score" not in page


def test_last_engaged_is_stored_shown_sorted_and_in_the_api(
    session: Session, client: FlaskClient
) -> None:
    rep = MemberFactory()
    recent = engaged(session, rep, 1, name="Recent Rita")
    engaged(session, rep, 9, 8, 7, name="Older Otto")
    never = LeadFactory(owner=rep, name="Never Nina")
    session.expire_all()
    assert session.get_one(Lead, recent.id).last_engaged_at is not None
    assert (session.get_one(Lead, recent.id).last_engaged_at - (utcnow() - DAY)) < DAY / 24
    assert session.get_one(Lead, never.id).last_engaged_at is None
    sign_in(client, rep)

    def names(query: str) -> list[str]:
        return re.findall(r'class="lead-name">([^<]+)<', client.get(f"/leads?{query}").text)

    table = client.get("/leads").text
    assert "Last engaged" in table
    cells = [
        re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td data-last-engaged>(.*?)</td>", table)
    ]
    assert sorted(cells) == ["1d ago", "7d ago", "never"]
    # The first click on Score shows the highest first, as on Last engaged
    assert "sort=-score" in table
    assert "sort=-last_engaged" in table
    assert names("sort=-score") == ["Older Otto", "Recent Rita", "Never Nina"]
    assert names("sort=-last_engaged") == ["Recent Rita", "Older Otto", "Never Nina"]
    assert names("sort=last_engaged") == ["Older Otto", "Recent Rita", "Never Nina"]
    assert "sort=score" in client.get("/leads?sort=-score").text  # the second click reverses

    auth = {"Authorization": f"Bearer {api_token(rep)}"}
    answer = client.get(f"/api/v1/leads/{recent.id}", headers=auth).json
    assert answer["last_engaged_at"] == session.get_one(Lead, recent.id).last_engaged_at.isoformat()
    assert answer["score"] == recent.score
    assert client.get(f"/api/v1/leads/{never.id}", headers=auth).json["last_engaged_at"] is None
    listed = client.get("/api/v1/leads?sort=-last_engaged", headers=auth).json["leads"]
    assert [lead["name"] for lead in listed] == ["Recent Rita", "Older Otto", "Never Nina"]

"""Why this score: the lead page links to its score's parts, each award's reason and
worth today, and a 90-day chart drawn as inline SVG; the CLI rescores a workspace."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Workspace
from inboxcrm.cli import main
from inboxcrm.config import Settings
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.models import ScoreEvent
from inboxcrm.scoring.rules import Part
from tests.factories import LeadFactory, MemberFactory, WorkspaceFactory
from tests.support.web import sign_in


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(name="Northwind", domain="northwind.io")


def test_the_lead_page_links_to_reasons_and_a_chart(
    session: Session, client: FlaskClient, workspace: Workspace
) -> None:
    rep = MemberFactory(workspace=workspace)
    lead = LeadFactory(owner=rep, email="nina@vandelay.example")
    now = dt.datetime.now(dt.UTC)
    for days, rule, points, half_life, reason in (
        (40, "reply", 10, 30, "Replied within 3 h to 'Proposal' +10, halves every 30 days"),
        (2, "meeting", 20, 45, "Accepted a meeting +20, halves every 45 days"),
    ):
        at = now - dt.timedelta(days=days)
        session.add(ScoreEvent(workspace_id=workspace.id, lead_id=lead.id, rule=rule,
                               part=Part.engagement, points=points, half_life_days=half_life,
                               awarded_at=at, reason=reason))  # fmt: skip
    session.commit()
    sign_in(client, rep)
    page = client.get(f"/leads/{lead.id}")
    assert f'href="/leads/{lead.id}/score"' in page.text
    why = client.get(f"/leads/{lead.id}/score")
    assert why.status_code == 200
    text = why.text
    # newest first, each with what it is worth today
    assert text.index("Accepted a meeting +20") < text.index(
        "Replied within 3 h to &#39;Proposal&#39;"
    )
    assert "+19.4" in text  # 20 points, two days into a 45-day half-life
    assert "+4.0" in text  # 10 points, 40 days into a 30-day half-life
    assert "<svg" in text
    assert "<polyline" in text
    assert re.findall(r"<script(?![^>]*\bsrc=)", text) == []  # no inline script
    assert "script-src 'self'" in why.headers["Content-Security-Policy"]


def test_another_workspaces_lead_has_no_score_page(
    session: Session, client: FlaskClient, workspace: Workspace
) -> None:
    elsewhere = WorkspaceFactory(name="Other", domain="other.example")
    other = LeadFactory(owner=MemberFactory(workspace=elsewhere))
    sign_in(client, MemberFactory(workspace=workspace))
    assert client.get(f"/leads/{other.id}/score").status_code == 404


def test_scores_rescore_scores_a_whole_workspace(
    session: Session, settings: Settings, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    rep = MemberFactory(workspace=workspace)
    lead = LeadFactory(owner=rep, title="VP Sales", budget="50k", authority="yes", need="CRM",
                       timeline="Q1")  # fmt: skip
    session.commit()
    monkeypatch.setenv("INBOXCRM_ENV", "production")
    monkeypatch.setenv("INBOXCRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("INBOXCRM_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("INBOXCRM_TOKEN_KEY", settings.token_key)
    result = CliRunner().invoke(main, ["scores", "rescore", "--workspace", "Northwind"])
    assert result.exit_code == 0, result.output
    assert "1 leads rescored" in result.output
    session.expire_all()
    assert session.get_one(Lead, lead.id).score == 25  # senior title and BANT: fit only
    rules = session.scalars(select(ScoreEvent.rule).order_by(ScoreEvent.rule)).all()
    assert rules == ["bant", "senior_title"]
    # Again: the same rows
    before = session.scalars(select(ScoreEvent.id).order_by(ScoreEvent.id)).all()
    assert (
        CliRunner().invoke(main, ["scores", "rescore", "--workspace", "Northwind"]).exit_code == 0
    )
    session.expire_all()
    assert session.scalars(select(ScoreEvent.id).order_by(ScoreEvent.id)).all() == before
    missing = CliRunner().invoke(main, ["scores", "rescore", "--workspace", "Nope"])
    assert missing.exit_code != 0
    assert "no workspace" in missing.output


def test_a_long_history_shows_the_newest_awards_and_adds_up_the_older_ones(
    session: Session, client: FlaskClient, workspace: Workspace
) -> None:
    rep = MemberFactory(workspace=workspace)
    lead = LeadFactory(owner=rep, email="nina@vandelay.example")
    now = dt.datetime.now(dt.UTC)
    for n in range(130):
        session.add(ScoreEvent(workspace_id=workspace.id, lead_id=lead.id, rule="meeting",
                               part=Part.engagement, points=2, half_life_days=None,
                               awarded_at=now - dt.timedelta(days=n + 1),
                               reason=f"Accepted meeting {n} +2"))  # fmt: skip
    session.commit()
    sign_in(client, rep)
    text = client.get(f"/leads/{lead.id}/score").text
    assert "Score 260" in text
    assert "Accepted meeting 0 +2" in text  # the newest
    assert "Accepted meeting 99 +2" in text
    assert "Accepted meeting 100 +2" not in text
    assert "30 older awards, together" in text
    assert "+60.0" in text

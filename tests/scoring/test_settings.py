"""A workspace's own score rules, temperature lines and ideal customer: read by every
rescore, changed by admins on /settings/scoring and through the API, refused with a
message per field, and each change rescoring the workspace through the clock's job."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role, Workspace
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.models import ActivityKind, Lead
from inboxcrm.scoring.jobs import RESCORE_STEP, rescore_queued
from inboxcrm.scoring.rescore import rescore
from inboxcrm.scoring.settings import DEFAULTS, progress, replace_settings, scoring_of
from inboxcrm.scoring.stored import awards_of
from inboxcrm.stages.service import entry_stage
from inboxcrm.tenancy import Scope
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    LeadFactory,
    MemberFactory,
    WorkspaceFactory,
    api_token,
)
from tests.support.database import statements
from tests.support.web import csrf_token, sign_in


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(name="Northwind", domain="northwind.io")


@pytest.fixture
def admin(workspace: Workspace) -> Member:
    return MemberFactory(workspace=workspace, role=Role.admin)


@pytest.fixture
def rep(workspace: Workspace) -> Member:
    return MemberFactory(workspace=workspace, role=Role.rep)


def met(session: Session, owner: Member, days_ago: float = 0, **fields: Any) -> Lead:
    """A lead who accepted a meeting, scored by the clock as the sync would have."""
    lead = LeadFactory(owner=owner, **fields)
    ActivityFactory(lead=lead, kind=ActivityKind.meeting,
                    at=utcnow() - dt.timedelta(days=days_ago))  # fmt: skip
    rescore(session, lead.workspace_id, [lead.id], utcnow())
    session.commit()
    return lead


def reasons(session: Session, lead: Lead) -> list[tuple[str, int, str]]:
    session.expire_all()
    stored = awards_of(session, session.get_one(Lead, lead.id))
    return sorted((a.rule, a.points, a.reason) for a in stored)


def score(session: Session, lead: Lead) -> int:
    session.expire_all()
    return session.get_one(Lead, lead.id).score


def post(client: FlaskClient, url: str, **form: str) -> Any:
    token = csrf_token(client.get("/settings/scoring").text)
    return client.post(url, data={"csrf_token": token, **form})


MEETING = {"trigger": "meeting", "name": "Accepted a meeting", "points": "30",
           "half_life_days": "45", "cap": "", "period_days": "", "within_hours": "",
           "enabled": "on"}  # fmt: skip


def test_a_workspace_that_changed_nothing_scores_by_the_defaults_and_stores_nothing(
    session: Session, workspace: Workspace, rep: Member
) -> None:
    assert scoring_of(session, workspace.id) == DEFAULTS
    lead = met(session, rep)
    assert reasons(session, lead) == [
        ("meeting", 20, "Accepted a meeting +20, halves every 45 days")
    ]
    assert progress(session, workspace.id) is None


def test_a_changed_rule_rescores_the_workspace_through_the_job(
    db: Database, session: Session, client: FlaskClient, admin: Member, rep: Member
) -> None:
    leads = [met(session, rep) for _ in range(3)]
    elsewhere = met(session, MemberFactory(workspace=WorkspaceFactory(name="Other")))
    assert [score(session, lead) for lead in leads] == [20, 20, 20]
    sign_in(client, admin)
    saved = post(client, "/settings/scoring/rules/meeting", **MEETING)
    assert saved.status_code == 302
    page = client.get("/settings/scoring").text
    assert "Rule “Accepted a meeting” saved" in page
    assert "rescoring: 0 of 3 leads" in page  # queued; the clock has not ticked yet
    assert client.get("/settings/scoring/progress").json == {
        "rescoring": True, "done": 0, "total": 3, "text": "rescoring: 0 of 3 leads"}  # fmt: skip
    assert score(session, leads[0]) == 20  # the page itself rescored nothing

    assert rescore_queued(db, utcnow()) == 3  # the clock's tick
    for lead in leads:
        assert score(session, lead) == 30
        assert reasons(session, lead) == [
            ("meeting", 30, "Accepted a meeting +30, halves every 45 days")
        ]
    assert score(session, elsewhere) == 20  # another workspace keeps its rules
    assert client.get("/settings/scoring/progress").json["rescoring"] is False
    assert "rescoring:" not in client.get("/settings/scoring").text
    # The sentence the table shows
    assert "+30 for an accepted meeting, halves every 45 days" in page


def test_a_rule_turned_off_removed_or_added_changes_what_leads_earn(
    db: Database, session: Session, client: FlaskClient, admin: Member, rep: Member
) -> None:
    lead = met(session, rep, title="VP Sales")
    assert {r for r, _, _ in reasons(session, lead)} == {"meeting", "senior_title"}
    sign_in(client, admin)
    off = {**MEETING, "points": "20"}
    del off["enabled"]
    assert post(client, "/settings/scoring/rules/meeting", **off).status_code == 302
    rescore_queued(db, utcnow())
    assert [r for r, _, _ in reasons(session, lead)] == ["senior_title"]
    assert "(off)" in client.get("/settings/scoring").text

    assert post(client, "/settings/scoring/rules/senior_title/delete").status_code == 302
    rescore_queued(db, utcnow())
    assert reasons(session, lead) == []
    assert score(session, lead) == 0
    assert "senior_title" not in {
        s.rule.key for s in scoring_of(session, admin.workspace_id).settings
    }

    demo = {**MEETING, "name": "Booked a demo", "points": "25", "half_life_days": ""}
    added = post(client, "/settings/scoring/rules", **demo)
    assert added.status_code == 302
    rescore_queued(db, utcnow())
    assert reasons(session, lead) == [("booked_a_demo", 25, "Booked a demo +25")]
    assert "+25 for an accepted meeting" in client.get("/settings/scoring").text


def test_bad_values_are_refused_field_by_field_and_what_was_typed_stays(
    session: Session, client: FlaskClient, admin: Member
) -> None:
    sign_in(client, admin)
    refused = post(client, "/settings/scoring/rules/reply", trigger="reply", name="Replied",
                   points="lots", half_life_days="0", cap="30", period_days="",
                   within_hours="", enabled="on")  # fmt: skip
    assert refused.status_code == 422
    text = refused.text
    assert "points must be a whole number, not &#39;lots&#39;" in text
    assert "a half-life is 1 to 3650 days, or none" in text
    assert "a cap needs its period, and a period its cap" in text
    assert 'value="lots"' in text  # what was typed, to fix
    assert progress(session, admin.workspace_id) is None  # nothing stored, nothing queued
    assert scoring_of(session, admin.workspace_id) == DEFAULTS

    new = post(client, "/settings/scoring/rules", trigger="nothing", name="", points="0",
               half_life_days="", cap="", period_days="", within_hours="5")  # fmt: skip
    assert new.status_code == 422
    assert "choose what the rule reacts to" in new.text
    assert "give the rule a name" in new.text
    assert "points must be between -100 and 100, not 0" in new.text

    quick = post(client, "/settings/scoring/rules/meeting", **{**MEETING, "within_hours": "2"})
    assert "only a reply rule can ask for a quick reply" in quick.text

    temperature = post(client, "/settings/scoring/temperature", hot="20", warm="30",
                       margin="x", cold_after_days="400")  # fmt: skip
    assert temperature.status_code == 422
    assert "warm must be above 0 and below hot" in temperature.text
    assert "margin must be a whole number" in temperature.text
    assert "a lead goes cold after 1 to 365 quiet days" in temperature.text
    assert 'value="400"' in temperature.text
    assert post(client, "/settings/scoring/rules/nope/delete").status_code == 404


def test_thresholds_and_the_ideal_customer_are_the_workspaces_own(
    db: Database, session: Session, client: FlaskClient, admin: Member, rep: Member
) -> None:
    fintech = CompanyFactory(workspace=admin.workspace, name="Ledgerly")
    fintech.industry = "Fintech"
    lead = met(session, rep)
    lead.company_id = fintech.id
    session.commit()
    rescore(session, lead.workspace_id, [lead.id], utcnow())
    session.commit()
    assert score(session, lead) == 20
    assert session.get_one(Lead, lead.id).temperature is not None  # warm at 20
    sign_in(client, admin)
    saved = post(client, "/settings/scoring/ideal", industries="fintech, Insurance", sizes="")
    assert saved.status_code == 302
    assert post(client, "/settings/scoring/temperature", hot="80", warm="40", margin="5",
                cold_after_days="14").status_code == 302  # fmt: skip
    rescore_queued(db, utcnow())
    assert score(session, lead) == 30  # the meeting and the ideal company
    assert "ideal_company" in [r for r, _, _ in reasons(session, lead)]
    assert session.get_one(Lead, lead.id).temperature is None  # below the new warm line
    own = scoring_of(session, admin.workspace_id)
    assert own.ideal.industries == frozenset({"fintech", "insurance"})
    assert (own.thresholds.hot, own.thresholds.warm) == (80, 40)
    again = post(client, "/settings/scoring/temperature", hot="80", warm="40", margin="5",
                 cold_after_days="14")  # fmt: skip
    assert "Nothing changed." in client.get(again.location).text


def test_others_read_the_settings_and_only_admins_change_them(
    session: Session, client: FlaskClient, rep: Member
) -> None:
    sign_in(client, rep)
    page = client.get("/settings/scoring")
    assert page.status_code == 200
    assert "Only admins change these settings." in page.text
    assert "+10 for a reply, halves every 30 days, at most 30 a week" in page.text
    assert (
        "Save"
        not in re.sub(r"<[^>]+>", " ", page.text).split("Rules", 1)[1].split("Temperature")[0]
    )
    assert 'href="/settings/scoring"' in client.get("/leads").text  # in the navigation
    refused = post(client, "/settings/scoring/rules/reply", **MEETING)
    assert refused.status_code == 403
    assert "only admins can change the scoring settings" in refused.text
    assert scoring_of(session, rep.workspace_id) == DEFAULTS


def test_a_rescore_reads_the_settings_once_for_all_its_leads(
    db: Database, session: Session, rep: Member, client: FlaskClient, admin: Member
) -> None:
    leads = [met(session, rep) for _ in range(4)]
    sign_in(client, admin)
    post(client, "/settings/scoring/rules/meeting", **MEETING)
    sent = statements(session, lambda: rescore(session, rep.workspace_id,
                                               [lead.id for lead in leads], utcnow()))  # fmt: skip
    assert len([sql for sql, _ in sent if "FROM score_settings" in sql]) == 1
    session.commit()
    assert [score(session, lead) for lead in leads] == [30] * 4


def test_one_tick_works_off_a_whole_workspace_rescore(
    db: Database, session: Session, admin: Member
) -> None:
    stage = entry_stage(Scope(session, admin.workspace_id))
    many = RESCORE_STEP * 2 + 10
    session.add_all(
        Lead(
            workspace_id=admin.workspace_id,
            email=f"lead{i}@client.example",
            stage_id=stage.id,
            title="VP Sales",
        )
        for i in range(many)
    )
    session.commit()
    current = scoring_of(session, admin.workspace_id)
    settings = tuple(
        replace(s, rule=replace(s.rule, points=12)) if s.rule.key == "senior_title" else s
        for s in current.settings
    )
    replace_settings(session, admin, replace(current, settings=settings), utcnow())
    session.commit()
    assert progress(session, admin.workspace_id) is not None
    assert rescore_queued(db, utcnow()) == many  # one tick, every step
    done = progress(session, admin.workspace_id)
    assert done is not None
    assert (done.done, done.total, done.finished) == (many, many, True)
    session.expire_all()
    assert set(session.scalars(select(Lead.score))) == {12}


def test_the_api_reads_and_replaces_the_settings(
    db: Database, session: Session, client: FlaskClient, admin: Member, rep: Member
) -> None:
    lead = met(session, rep)
    as_rep = {"Authorization": f"Bearer {api_token(rep)}"}
    as_admin = {"Authorization": f"Bearer {api_token(admin)}"}
    read = client.get("/api/v1/scoring/settings", headers=as_rep)
    assert read.status_code == 200
    body = read.json
    assert body["defaults"] is True
    assert body["thresholds"] == {"hot": 50, "warm": 20, "margin": 5, "cold_after_days": 14}
    first = body["rules"][0]
    assert first["sentence"] == "+10 for a reply, halves every 30 days, at most 30 a week"
    assert (first["key"], first["points"], first["enabled"]) == ("reply", 10, True)

    rules = body["rules"]
    for rule in rules:
        if rule["key"] == "meeting":
            rule["points"] = 35
    refused = client.put("/api/v1/scoring/settings", headers=as_rep, json={"rules": rules})
    assert refused.status_code == 403

    bad = [{**rules[0], "points": "many"}, {**rules[1], "cap": 5, "period_days": None}]
    answer = client.put("/api/v1/scoring/settings", headers=as_admin,
                        json={"rules": bad, "thresholds": {"hot": 10, "warm": 20, "margin": 5,
                                                          "cold_after_days": 14},
                              "ideal": {"industries": "fintech", "sizes": [3]}})  # fmt: skip
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert fields["rules.0.points"] == "points must be a whole number, not 'many'"
    assert fields["rules.1.cap"] == "a cap needs its period, and a period its cap"
    assert fields["thresholds.warm"].startswith("warm must be above 0 and below hot")
    assert fields["ideal.sizes"] == "sizes is a list of names"
    assert "ideal.industries" not in fields  # a text of names is fine
    assert client.put("/api/v1/scoring/settings", headers=as_admin,
                      json={"rules": {"reply": 1}}).status_code == 422  # fmt: skip
    badly_named = {"rules": [{**rules[0], "key": "Bad Key"}]}
    answer = client.put("/api/v1/scoring/settings", headers=as_admin, json=badly_named)
    assert list(answer.json["error"]["fields"]) == ["rules.0.key"]

    saved = client.put("/api/v1/scoring/settings", headers=as_admin, json={"rules": rules})
    assert saved.status_code == 200
    assert saved.json["defaults"] is False
    assert saved.json["rescoring"] == {"done": 0, "total": 1}
    assert [r["points"] for r in saved.json["rules"] if r["key"] == "meeting"] == [35]
    rescore_queued(db, utcnow())
    assert score(session, lead) == 35
    assert client.get("/api/v1/scoring/settings", headers=as_rep).json["rescoring"] is None

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.errors import BadRequest
from inboxcrm.pipeline.funnel import funnel, parse_period
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, StageChangeFactory, api_token
from tests.support.stages import T0, stages
from tests.support.web import sign_in

MARCH = (dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def build(session: Session) -> tuple[Member, Member]:
    """Five leads with hand-made histories; T0 is 2 March 2026, 09:00 UTC."""
    rep = MemberFactory()
    other = MemberFactory(workspace=rep.workspace)
    named = stages(session, rep)
    a = LeadFactory(owner=rep, name="A", deal_value=decimal.Decimal("1000"), at=T0)
    StageChangeFactory(lead=a, stage=named["MQL"], at=T0 + DAY, by=rep)
    StageChangeFactory(lead=a, stage=named["SQL"], at=T0 + 3 * DAY, by=rep)
    StageChangeFactory(lead=a, stage=named["Won"], at=T0 + 10 * DAY)  # by a Gmail label
    b = LeadFactory(owner=rep, name="B", at=T0)
    StageChangeFactory(lead=b, stage=named["MQL"], at=T0 + 2 * DAY, by=rep)
    StageChangeFactory(lead=b, stage=named["Lost"], at=T0 + 5 * DAY, by=rep)
    c = LeadFactory(owner=rep, name="C", at=T0)
    feb20 = dt.datetime(2026, 2, 20, 9, tzinfo=dt.UTC)
    d = LeadFactory(
        owner=other, name="D", deal_value=decimal.Decimal("500"), currency="EUR", at=feb20
    )
    StageChangeFactory(
        lead=d, stage=named["MQL"], at=dt.datetime(2026, 2, 25, tzinfo=dt.UTC), by=other
    )
    StageChangeFactory(lead=d, stage=named["SQL"], at=T0 + DAY, by=other)
    StageChangeFactory(lead=d, stage=named["Won"], at=T0 + 4 * DAY, by=other)
    e = LeadFactory(owner=other, name="E", at=T0)
    StageChangeFactory(
        lead=e, stage=named["Won"], at=T0 + 2 * DAY, by=other
    )  # straight to won: passes every step
    for lead, inbound, response in (
        (a, T0, T0 + 30 * dt.timedelta(minutes=1)),
        (b, T0, T0 + 3 * HOUR),
        (c, T0, None),
        (d, feb20, feb20 + dt.timedelta(minutes=10)),  # before the period
        (e, T0 + DAY, T0 + DAY + HOUR),  # exactly one hour still counts
    ):
        lead.first_inbound_at, lead.first_response_at = inbound, response
    session.commit()
    return rep, other


def test_funnel_figures_for_a_period(session: Session) -> None:
    rep, _other = build(session)
    figures = funnel(Scope(session, rep.workspace_id), *MARCH)

    entered = {f.stage.name: f.entered for f in figures.stages}
    assert entered == {
        "Lead": 4, "MQL": 2, "SAL": 0, "SQL": 2, "SQO": 0,
        "Won": 3, "Lost": 1, "Nurture": 0, "Unqualified": 0,
    }  # fmt: skip
    in_stage = {f.stage.name: f.median_time_in_stage for f in figures.stages}
    assert in_stage["Lead"] == 2 * DAY  # A 1 d, B 2 d, E 2 d; C has not left yet
    assert in_stage["MQL"] == 2.5 * DAY  # A 2 d, B 3 d
    assert in_stage["SQL"] == 5 * DAY  # A 7 d, D 3 d
    assert in_stage["Won"] is None

    steps = [(c.from_name, c.to_name, c.reached, c.converted) for c in figures.steps]
    assert steps == [
        ("Lead", "MQL", 4, 3),  # A, B, and E (who skipped ahead); not C
        ("MQL", "SAL", 2, 1),  # A went on, B was lost
        ("SAL", "SQL", 0, 0),
        ("SQL", "SQO", 2, 2),
        ("SQO", "Won", 0, 0),
    ]
    assert [c.rate for c in figures.steps] == [0.75, 0.5, None, 1.0, None]
    # Of the moved on, those that passed the next stage without entering it.
    assert [c.skipped for c in figures.steps] == [1, 1, 0, 2, 0]  # E; A past SAL; A, D past SQO
    assert [(c.from_name, c.converted, c.reached) for c in figures.to_won] == [
        ("Lead", 2, 4), ("MQL", 1, 2), ("SAL", 0, 0), ("SQL", 2, 2), ("SQO", 0, 0)
    ]  # fmt: skip

    assert figures.won_leads == 3
    assert figures.won_value == {"USD": decimal.Decimal("1000"), "EUR": decimal.Decimal("500")}
    assert figures.median_time_to_won == 10 * DAY  # E 2 d, A 10 d, D 14 d

    assert figures.speed.leads == 4
    assert figures.speed.answered == 3
    assert figures.speed.within_target == 2
    assert figures.speed.share_within_target == 0.5
    assert figures.speed.median == HOUR


def test_funnel_per_owner_and_renamed_stages(session: Session) -> None:
    rep, other = build(session)
    named = stages(session, rep)
    named["Won"].name = "Closed won"  # figures key on kinds, not names
    session.commit()
    figures = funnel(Scope(session, rep.workspace_id), *MARCH, owner_id=other.id)

    assert {f.stage.name: f.entered for f in figures.stages if f.entered} == {
        "Lead": 1, "SQL": 1, "Closed won": 2
    }  # fmt: skip
    assert figures.steps[0].reached == 1
    assert figures.steps[0].converted == 1
    assert figures.won_leads == 2
    assert figures.won_value == {"EUR": decimal.Decimal("500")}
    assert figures.median_time_to_won == 8 * DAY
    assert figures.speed.leads == 1
    assert figures.speed.share_within_target == 1.0


def test_the_period_includes_its_start_and_excludes_its_end(session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    start, end = MARCH
    first = LeadFactory(owner=rep, at=start)
    StageChangeFactory(lead=first, stage=named["MQL"], at=end, by=rep)
    figures = funnel(Scope(session, rep.workspace_id), start, end)
    assert {f.stage.name: f.entered for f in figures.stages if f.entered} == {"Lead": 1}
    assert figures.stages[0].median_time_in_stage == 31 * DAY
    empty = funnel(Scope(session, rep.workspace_id), end, end + DAY)
    assert empty.won_leads == 0
    assert empty.speed.share_within_target is None


def test_period_parameters() -> None:
    today = dt.date(2026, 3, 31)
    assert parse_period({}, today) == (dt.datetime(2026, 3, 2, tzinfo=dt.UTC), MARCH[1])
    assert parse_period({"from": "2026-03-01", "to": "2026-03-31"}, today) == MARCH
    for bad, message in (
        ({"from": "March"}, "From: a date such as 2026-01-31, not 'March'"),
        ({"to": "2026-02-30"}, "To: a date such as 2026-01-31"),
        ({"from": "2026-04-01", "to": "2026-03-01"}, r"is after To \(2026-03-01\)"),
        ({"from": "1990-01-01"}, "at most"),
    ):
        with pytest.raises(BadRequest, match=message):
            parse_period(bad, today)


def test_funnel_api_and_reports_page(client: FlaskClient, session: Session) -> None:
    rep, other = build(session)
    headers = {"Authorization": f"Bearer {api_token(rep)}"}

    answer = client.get("/api/v1/reports/funnel?from=2026-03-01&to=2026-03-31", headers=headers)
    assert answer.status_code == 200
    body = answer.json
    assert body["from"] == "2026-03-01"
    assert body["to"] == "2026-03-31"
    assert body["stages"][0] == {
        "id": body["stages"][0]["id"], "name": "Lead", "kind": "open", "position": 0,
        "entered": 4, "now": 1, "median_time_in_stage_s": 172800.0,
    }  # fmt: skip
    assert body["conversions"][0] == {
        "from": "Lead", "to": "MQL", "reached": 4, "converted": 3, "skipped": 1, "rate": 0.75
    }  # fmt: skip
    assert body["won"] == {
        "leads": 3, "value": {"EUR": "500.00", "USD": "1000.00"}, "median_time_to_won_s": 864000.0
    }  # fmt: skip
    assert body["speed_to_lead"] == {
        "leads": 4, "answered": 3, "within_1h": 2, "share_within_1h": 0.5, "median_s": 3600.0
    }  # fmt: skip
    mine = client.get(
        f"/api/v1/reports/funnel?from=2026-03-01&to=2026-03-31&owner={other.id}", headers=headers
    )
    assert mine.json["won"]["leads"] == 2
    for query, status in (("owner=abc", 400), ("from=yesterday", 400), ("owner=999999", 404)):
        refused = client.get(f"/api/v1/reports/funnel?{query}", headers=headers)
        assert refused.status_code == status
        assert refused.json["error"]["message"]
    stranger = MemberFactory()
    assert (
        client.get(f"/api/v1/reports/funnel?owner={stranger.id}", headers=headers).status_code
        == 404
    )
    assert client.get("/api/v1/reports/funnel").status_code == 401

    sign_in(client, rep)
    page = client.get("/reports?from=2026-03-01&to=2026-03-31")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "<dd data-won-leads>3</dd>" in page.text
    assert "<dd data-won-value>€500 · $1,000</dd>" in page.text
    assert "<dd data-speed-share>50%</dd>" in page.text
    bad = client.get("/reports?to=nope")
    assert bad.status_code == 400
    assert "To: a date such as 2026-01-31, not &#39;nope&#39;" in bad.text
    assert 'name="to" value="nope"' in bad.text  # the form again, as typed
    backwards = client.get("/reports?from=2026-03-31&to=2026-03-01")
    assert backwards.status_code == 400
    assert "From (2026-03-31) is after To (2026-03-01)" in backwards.text
    assert 'value="2026-03-31"' in backwards.text


def test_reports_page_of_an_empty_workspace(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    sign_in(client, rep)
    page = client.get("/reports")
    assert page.status_code == 200
    assert "<dd data-won-leads>0</dd>" in page.text
    assert "<dd data-speed-share>—</dd>" in page.text
    assert client.get(f"/reports?owner={MemberFactory().id}").status_code == 404


def test_every_figure_agrees_with_the_definition_the_page_gives(
    client: FlaskClient, session: Session
) -> None:
    """A hand-computed March: seven leads, with a skip, a step back, an entry before the
    period, a move after it and a loss. Each conversion row's cohort is the Entered of its
    stage; moved on = entered the next stage + skipped past it."""
    rep = MemberFactory()
    named = stages(session, rep)
    feb = dt.datetime(2026, 2, 10, 9, tzinfo=dt.UTC)
    april = dt.datetime(2026, 4, 3, 9, tzinfo=dt.UTC)
    p = LeadFactory(owner=rep, name="P", at=T0)  # Lead -> MQL -> SAL -> SQL, all in March
    for days, name in ((1, "MQL"), (2, "SAL"), (4, "SQL")):
        StageChangeFactory(lead=p, stage=named[name], at=T0 + days * DAY, by=rep)
    q = LeadFactory(owner=rep, name="Q", at=T0)  # Lead -> SAL (skips MQL) -> MQL (back)
    StageChangeFactory(lead=q, stage=named["SAL"], at=T0 + DAY, by=rep)
    StageChangeFactory(lead=q, stage=named["MQL"], at=T0 + 3 * DAY, by=rep)
    r = LeadFactory(owner=rep, name="R", at=feb)  # made in February, MQL in March
    StageChangeFactory(lead=r, stage=named["MQL"], at=T0 + DAY, by=rep)
    StageChangeFactory(lead=r, stage=named["SAL"], at=april, by=rep)  # moved on in April
    s_ = LeadFactory(owner=rep, name="S", at=T0)  # Lead, then lost
    StageChangeFactory(lead=s_, stage=named["Lost"], at=T0 + 2 * DAY, by=rep)
    LeadFactory(owner=rep, name="T", at=T0)  # still in Lead
    v = LeadFactory(owner=rep, name="V", at=T0)  # Lead -> SQL: skips MQL and SAL
    StageChangeFactory(lead=v, stage=named["SQL"], at=T0 + 5 * DAY, by=rep)
    u = LeadFactory(owner=rep, name="U", at=feb)  # all before March: in no March figure
    StageChangeFactory(lead=u, stage=named["MQL"], at=feb + DAY, by=rep)
    session.commit()

    figures = funnel(Scope(session, rep.workspace_id), *MARCH)
    entered = {f.stage.name: f.entered for f in figures.stages}
    now = {f.stage.name: f.now for f in figures.stages}
    assert entered == {
        "Lead": 5, "MQL": 3, "SAL": 2, "SQL": 2, "SQO": 0,
        "Won": 0, "Lost": 1, "Nurture": 0, "Unqualified": 0,
    }  # fmt: skip  # Lead: P Q S T V; MQL: P Q(back) R; SAL: P Q; SQL: P V
    assert now == {
        "Lead": 1, "MQL": 2, "SAL": 1, "SQL": 2, "SQO": 0,
        "Won": 0, "Lost": 1, "Nurture": 0, "Unqualified": 0,
    }  # fmt: skip  # T; Q U; R; P V; S
    rows = [(c.from_name, c.reached, c.converted, c.skipped) for c in figures.steps]
    assert rows == [
        ("Lead", 5, 3, 1),  # P entered MQL, Q too (back from SAL), V skipped it; S T did not
        ("MQL", 3, 2, 0),  # P (in March) and R (in April) entered SAL; Q came back, stayed
        ("SAL", 2, 1, 0),  # P entered SQL; Q went back to MQL
        ("SQL", 2, 0, 0),
        ("SQO", 0, 0, 0),
    ]
    for row in figures.steps:  # the cohort is that stage's Entered, as the page says
        assert row.reached == entered[row.from_name]
        assert row.converted <= row.reached

    sign_in(client, rep)
    page = client.get("/reports?from=2026-03-01&to=2026-03-31").text
    assert "the leads that entered the first stage from 2026-03-01 to 2026-03-31" in page
    lead_row = page[page.index('<tr data-step="Lead">') :].split("</tr>")[0]
    assert '<td class="num" data-cohort>5</td>' in lead_row
    assert '<td class="num" data-converted>3</td>' in lead_row
    assert '<td class="num" data-skipped>1</td>' in lead_row
    mql = page[page.index('<tr data-stage="MQL">') :].split("</tr>")[0]
    assert '<td class="num" data-entered>3</td>' in mql
    assert '<td class="num" data-now>2</td>' in mql

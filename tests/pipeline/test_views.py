from __future__ import annotations

import datetime as dt
import decimal
import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.leads.schemas import LeadUpdate
from inboxcrm.leads.service import update_lead
from inboxcrm.stages.models import StageChange
from inboxcrm.tenancy import Scope
from tests.factories import ActivityFactory, LeadFactory, MemberFactory, StageChangeFactory
from tests.support.stages import stages
from tests.support.web import csrf_token, sign_in


def column_names(html: str, stage_id: int) -> list[str]:
    section = html.split(f'data-stage="{stage_id}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'class="lead-name">([^<]+)<', section)


def test_the_board_shows_columns_cards_and_figures(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory(name="Rita Rep")
    named = stages(session, rep)
    LeadFactory(owner=rep, name="Ada", company="Cobalt", deal_value=decimal.Decimal("1200"))
    LeadFactory(owner=rep, name="Bo", stage_id=named["SQL"].id, deal_value=decimal.Decimal("800"))
    sign_in(client, rep)

    page = client.get("/board")
    assert page.status_code == 200
    html = page.text
    assert column_names(html, named["Lead"].id) == ["Ada"]
    assert column_names(html, named["SQL"].id) == ["Bo"]
    assert "Cobalt" in html
    assert "$1,200" in html
    assert "Rita Rep" in html
    assert ">0 d</span>" in html
    assert 'href="/board"' in html  # the nav link


def test_more_loads_the_next_cards_of_one_column(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    for i in range(27):
        LeadFactory(owner=rep, name=f"P{i:02}")
    sign_in(client, rep)
    html = client.get("/board").text
    assert len(column_names(html, named["Lead"].id)) == 25
    more = re.search(r'href="(/board/more\?[^"]+)" data-more', html)
    assert more
    url = more.group(1).replace("&amp;", "&")
    fragment = client.get(url, headers={"X-Requested-With": "fetch"}).text
    assert re.findall(r'class="lead-name">([^<]+)<', fragment) == ["P01", "P00"]
    assert "<html" not in fragment
    assert "data-more" not in fragment
    # Without the script, the same link is a page of its own.
    assert "<html" in client.get(url).text
    assert client.get("/board/more?stage=x").status_code == 400


def test_move_with_the_card_form_and_as_json(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    lead = LeadFactory(owner=rep, name="Ada", deal_value=decimal.Decimal("100"))
    sign_in(client, rep)
    token = csrf_token(client.get("/board").text)

    moved = client.post(
        "/board/move", data={"csrf_token": token, "lead_id": lead.id, "stage_id": named["MQL"].id}
    )
    assert moved.status_code == 302
    assert moved.location == "/board?owner=me"  # a rep's board: their own leads
    assert "Moved to MQL." in client.get("/board").text

    answer = client.post(
        "/board/move?owner=me",
        data={"csrf_token": token, "lead_id": lead.id, "stage_id": named["SQL"].id},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.json["moved"] is True
    assert answer.json["columns"][str(named["SQL"].id)] == {"count": 1, "total": "$100"}
    assert answer.json["columns"][str(named["MQL"].id)] == {"count": 0, "total": "—"}
    session.expire_all()
    changes = session.scalars(select(StageChange).order_by(StageChange.id)).all()
    assert [(c.to_stage_id, c.member_id) for c in changes] == [
        (named["MQL"].id, rep.id),
        (named["SQL"].id, rep.id),
    ]


def test_lost_without_a_reason_is_refused_with_422(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    lead = LeadFactory(owner=rep, name="Ada")
    sign_in(client, rep)
    token = csrf_token(client.get("/board").text)
    form = {"csrf_token": token, "lead_id": lead.id, "stage_id": named["Lost"].id}

    page = client.post("/board/move", data=form)
    assert page.status_code == 422
    assert "say why the deal was lost" in page.text
    answer = client.post("/board/move", data=form, headers={"Accept": "application/json"})
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {"lost_reason": "required"}
    session.expire_all()
    assert session.get(Lead, lead.id).stage.name == "Lead"  # type: ignore[union-attr]

    done = client.post("/board/move", data={**form, "lost_reason": "No budget"})
    assert done.status_code == 302
    session.expire_all()
    kept = session.get(Lead, lead.id)
    assert kept is not None
    assert kept.stage.name == "Lost"
    assert kept.lost_reason == "No budget"


def test_bad_and_foreign_moves(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    strangers = LeadFactory(owner=MemberFactory(), name="Not yours")
    sign_in(client, rep)
    token = csrf_token(client.get("/board").text)
    assert client.post("/board/move", data={"csrf_token": token, "lead_id": "x"}).status_code == 400
    foreign = client.post(
        "/board/move",
        data={"csrf_token": token, "lead_id": strangers.id, "stage_id": named["MQL"].id},
    )
    assert foreign.status_code == 404
    no_csrf = client.post("/board/move", data={"lead_id": strangers.id, "stage_id": 1})
    assert no_csrf.status_code == 400
    session.expire_all()
    assert session.get(Lead, strangers.id).stage.name == "Lead"  # type: ignore[union-attr]


def test_marketers_see_the_board_but_cannot_move(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    marketer = MemberFactory(workspace=rep.workspace, role=Role.marketer)
    named = stages(session, rep)
    lead = LeadFactory(owner=rep, name="Ada")
    sign_in(client, marketer)
    html = client.get("/board").text
    assert "Ada" in html
    assert "data-move" not in html
    assert 'draggable="true"' not in html
    refused = client.post(
        "/board/move",
        data={"csrf_token": csrf_token(html), "lead_id": lead.id, "stage_id": named["MQL"].id},
    )
    assert refused.status_code == 403
    assert "marketers cannot move" in refused.text


def test_days_in_stage_count_from_when_the_lead_really_entered(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    now = utcnow()
    captured = LeadFactory(owner=rep, name="From an old thread")  # found by today's sync
    ActivityFactory(lead=captured, at=now - dt.timedelta(days=70, hours=1))  # its first mail
    ActivityFactory(lead=captured, at=now - dt.timedelta(days=3))
    LeadFactory(owner=rep, name="Brand new")
    moved = LeadFactory(owner=rep, name="Moved", at=now - dt.timedelta(days=40))
    StageChangeFactory(lead=moved, stage=named["MQL"], at=now - dt.timedelta(days=9), by=rep)
    ActivityFactory(lead=moved, at=now - dt.timedelta(days=39))  # before the move: no matter
    sign_in(client, rep)
    html = client.get("/board").text

    def days(name: str) -> str:
        card = html[html.index(f'class="lead-name">{name}<') :].split("</li>")[0]
        found = re.search(r"data-days[^>]*>(\d+) d<", card)
        assert found, card
        return found.group(1)

    assert (days("From an old thread"), days("Brand new"), days("Moved")) == ("70", "0", "9")
    assert "stale" in html[html.index("From an old thread") :].split("</li>")[0]


def test_lost_cards_say_why_and_a_reps_board_opens_on_their_own_leads(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    colleague = MemberFactory(workspace=rep.workspace)
    admin = MemberFactory(workspace=rep.workspace, role=Role.admin)
    named = stages(session, rep)
    lost = LeadFactory(owner=rep, name="Gone")
    update_lead(
        Scope(session, rep.workspace_id),
        lost,
        LeadUpdate(stage_id=named["Lost"].id, lost_reason="Chose a competitor"),
        rep,
        utcnow(),
    )
    session.commit()
    LeadFactory(owner=colleague, name="Theirs")
    sign_in(client, rep)
    html = client.get("/board").text
    # Lost is folded: its count shows, its cards come when it is opened.
    assert "Gone" not in html
    lost_cards = f"/board/more?stage={named['Lost'].id}"
    assert f'href="{lost_cards}&amp;owner=me" data-more data-unfold' in html
    opened = client.get(lost_cards, headers={"X-Requested-With": "fetch"}).text
    assert '<div class="small lost-reason" data-lost>Chose a competitor</div>' in opened
    assert "Theirs" not in html  # like the leads table: a rep's own first
    assert '<option value="me" selected>My leads</option>' in html
    assert "Theirs" in client.get("/board?owner=any").text
    admin = sign_in(client.application.test_client(), admin)
    assert "Theirs" in admin.get("/board").text
    assert "Gone" in admin.get(lost_cards).text


def test_the_first_click_on_score_or_deal_value_shows_the_most_first(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    LeadFactory(owner=rep)
    sign_in(client, rep)
    html = client.get("/leads").text
    for key in ("score", "deal_value"):
        assert f"sort=-{key}" in html, key

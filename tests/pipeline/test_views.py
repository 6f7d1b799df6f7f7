from __future__ import annotations

import decimal
import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.leads.models import Lead
from inboxcrm.stages.models import StageChange
from tests.factories import LeadFactory, MemberFactory
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
    assert "0 d in stage" in html
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
    assert moved.location == "/board"
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

"""Ownership holds: the whole permission table (role x action x whose lead), walked through
the API and through the pages (signed in, with CSRF), each refusal a 403 or a refusal on
the page that says what is not allowed, and a refused action changing nothing."""

from __future__ import annotations

import decimal
import html
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from inboxcrm.accounts.models import Member, Role, Workspace
from inboxcrm.accounts.permissions import RULES, Action, Whose
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.models import BlockedAddress, Lead
from inboxcrm.outbox.models import Suppression
from inboxcrm.outbox.suppression import do_not_email
from inboxcrm.stages.models import Stage
from inboxcrm.tenancy import Scope
from tests.factories import (
    LeadFactory,
    MemberFactory,
    NoteFactory,
    StageChangeFactory,
    WorkspaceFactory,
    api_token,
)
from tests.support.rows import lead_rows
from tests.support.web import csrf_token, sign_in

_numbers = itertools.count(1)
REFUSALS = ("cannot", "may not", "only admins can")


@dataclass
class Team:
    workspace: Workspace
    admin: Member
    rep: Member
    marketer: Member
    colleague: Member  # another rep: the owner of "another's" lead when an admin acts
    third: Member  # whom leads are handed over to

    def of(self, role: Role) -> Member:
        return {Role.admin: self.admin, Role.rep: self.rep, Role.marketer: self.marketer}[role]

    def owner(self, actor: Member, whose: Whose) -> int | None:
        if whose is Whose.own:
            return actor.id
        if whose is Whose.unowned:
            return None
        # Another's: the case for reps and marketers is an admin's lead.
        return self.colleague.id if actor.role is Role.admin else self.admin.id


@pytest.fixture
def team(session: Session) -> Team:
    workspace = WorkspaceFactory(domain="team.example")

    def member(name: str, role: Role) -> Member:
        return MemberFactory(
            workspace=workspace, email=f"{name}@team.example", name=name.title(), role=role
        )

    return Team(
        workspace,
        member("ava", Role.admin),
        member("rita", Role.rep),
        member("mo", Role.marketer),
        member("carl", Role.rep),
        member("tess", Role.rep),
    )


def make_lead(session: Session, team: Team, owner_id: int | None) -> Lead:
    """A lead with a note and a stage history, owned by `owner_id`, at a domain of its own."""
    n = next(_numbers)
    lead = LeadFactory(owner=team.admin, email=f"person{n}@firm{n}.example", name=f"Person {n}")
    NoteFactory(lead=lead, body="called, keen")
    StageChangeFactory(lead=lead, stage="MQL", by=team.admin)
    lead.owner_id = owner_id
    session.commit()
    return lead


def stage(session: Session, team: Team, name: str) -> Stage:
    return session.scalars(
        select(Stage).where(Stage.workspace_id == team.workspace.id, Stage.name == name)
    ).one()


def prepare(session: Session, team: Team, action: Action, lead: Lead) -> None:
    """What an action needs first: a manual "Do not email" to lift."""
    if action is Action.lift:
        do_not_email(Scope(session, lead.workspace_id), team.admin, lead, None, utcnow())
        session.commit()


def suppression_id(client: FlaskClient, lead: Lead) -> int:
    database: Database = client.application.extensions["inboxcrm.db"]
    with database.session() as s:
        return s.scalars(select(Suppression.id).where(Suppression.lead_id == lead.id)).one()


def by_api(
    client: FlaskClient, token: str, action: Action, lead: Lead, partner: Lead, actor: Member,
    team: Team, sql: Stage,
) -> TestResponse:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/leads/{lead.id}"
    if action is Action.lift:
        return client.delete(f"{url}/suppressions/{suppression_id(client, lead)}", headers=headers)
    bodies: dict[Action, tuple[str, str, dict[str, Any]]] = {
        Action.edit: ("PATCH", url, {"title": "Changed"}),
        Action.edit_deal: ("PATCH", url, {"deal_value": "100.00"}),
        Action.move: ("PATCH", url, {"stage_id": sql.id}),
        Action.take: ("PATCH", url, {"owner_id": actor.id}),
        Action.hand_over: ("PATCH", url, {"owner_id": team.third.id}),
        Action.merge: ("POST", f"{url}/merge", {"lead_id": partner.id}),
        Action.junk: ("POST", f"{url}/not-a-lead", {"block": None}),
        Action.block_domain: ("POST", f"{url}/not-a-lead", {"block": "domain"}),
        Action.suppress: ("POST", f"{url}/suppressions", {}),
    }
    method, path, body = bodies[action]
    return client.open(path, method=method, json=body, headers=headers)


def page_forms(
    client: FlaskClient, action: Action, lead: Lead, partner: Lead, actor: Member, team: Team,
    stages: tuple[Stage, Stage],
) -> list[Callable[[], TestResponse]]:  # fmt: skip
    """The action through every page form that does it, each to send when called."""
    token = csrf_token(client.get("/leads?owner=any").text)

    def post(path: str, **data: Any) -> TestResponse:
        return client.post(path, data={"csrf_token": token, **data})

    def bulk(**data: Any) -> TestResponse:
        return post("/leads/bulk", lead_ids=[lead.id], next="/leads?owner=any", **data)

    sql, sqo = stages
    not_a_lead = f"/leads/{lead.id}/not-a-lead"
    forms: dict[Action, list[Callable[[], TestResponse]]] = {
        Action.edit: [lambda: bulk(add_tag="changed")],
        Action.edit_deal: [],  # no page form changes deal fields: the API does
        Action.move: [
            lambda: post("/board/move", lead_id=lead.id, stage_id=sql.id),
            lambda: bulk(stage=str(sqo.id)),
        ],
        Action.take: [lambda: bulk(owner=str(actor.id))],
        Action.hand_over: [lambda: bulk(owner=str(team.third.id))],
        Action.merge: [
            lambda: post(f"/leads/{lead.id}/merge", other_lead_id=str(partner.id), confirmed="1")
        ],
        Action.junk: [lambda: post(not_a_lead, block="")],
        Action.block_domain: [lambda: post(not_a_lead, block="domain", confirmed="1")],
        Action.suppress: [lambda: post(f"/leads/{lead.id}/suppress")],
        Action.lift: [
            lambda: post(f"/leads/{lead.id}/suppressions/{suppression_id(client, lead)}/lift")
        ],
    }
    return forms[action]


def done(session: Session, action: Action, lead_id: int, partner_id: int, domain: str,
         actor: Member, team: Team, via_api: bool) -> bool:  # fmt: skip
    """Whether the allowed action did what it says."""
    session.expire_all()
    lead = session.get(Lead, lead_id)
    if action in (Action.junk, Action.block_domain):
        blocked = session.scalars(select(BlockedAddress.pattern)).all()
        return lead is None and (action is Action.junk or f"@{domain}" in blocked)
    assert lead is not None
    if action is Action.merge:
        return session.get(Lead, partner_id) is None
    if action is Action.edit:
        return lead.title == "Changed" if via_api else "changed" in {t.name for t in lead.tags}
    if action is Action.edit_deal:
        return lead.deal_value == decimal.Decimal(100)
    if action is Action.move:
        return lead.stage.name == ("SQL" if via_api else "SQO")
    if action is Action.take:
        return lead.owner_id == actor.id
    if action in (Action.suppress, Action.lift):
        rows = session.scalars(select(Suppression).where(Suppression.pattern == lead.email)).all()
        return bool(rows) is (action is Action.suppress)
    return lead.owner_id == team.third.id  # handed over


def refusal_text(response: TestResponse, client: FlaskClient) -> str:
    """The refusal a page or the API gave: a 403's message, or the page a form returned to."""
    if response.status_code == 302:
        return html.unescape(client.get(response.location).text)
    assert response.status_code == 403, response.text
    if response.is_json:
        return str(response.json["error"]["message"])
    return html.unescape(response.text)


CASES = [(role, action, whose) for role in Role for action in Action for whose in Whose]


@pytest.mark.parametrize(
    ("role", "action", "whose"), CASES, ids=[f"{r}-{a}-{w}" for r, a, w in CASES]
)
def test_the_permission_table_holds_through_the_api_and_the_pages(
    app: Flask, session: Session, team: Team, role: Role, action: Action, whose: Whose
) -> None:
    actor = team.of(role)
    owner = team.owner(actor, whose)
    allowed = whose in RULES[action][role]
    sql, sqo = stage(session, team, "SQL"), stage(session, team, "SQO")

    # The API, with a bearer token.
    lead, partner = make_lead(session, team, owner), make_lead(session, team, owner)
    prepare(session, team, action, lead)
    ids = lead.id, partner.id, lead.email.split("@")[1]
    token = api_token(actor)
    before = lead_rows(session)
    answer = by_api(app.test_client(), token, action, lead, partner, actor, team, sql)
    if allowed:
        assert answer.status_code in (200, 201, 204), answer.text
        assert done(session, action, *ids, actor, team, via_api=True)
    else:
        assert answer.status_code == 403, answer.text
        message = answer.json["error"]["message"]
        assert any(word in message for word in REFUSALS), message
        assert lead_rows(session) == before

    # The pages, signed in, through their forms with the CSRF token.
    lead, partner = make_lead(session, team, owner), make_lead(session, team, owner)
    prepare(session, team, action, lead)
    ids = lead.id, partner.id, lead.email.split("@")[1]
    client = sign_in(app.test_client(), actor)
    forms = page_forms(client, action, lead, partner, actor, team, (sql, sqo))
    for send in forms:
        before = lead_rows(session)
        answer = send()
        if allowed:
            assert answer.status_code == 302, answer.text
            page = html.unescape(client.get(answer.location).text)
            assert "Nothing was" not in page, page
        else:
            text = refusal_text(answer, client)
            assert any(word in text for word in REFUSALS), text
            assert lead_rows(session) == before
    if allowed and forms:
        assert done(session, action, *ids, actor, team, via_api=False)


def test_a_rep_can_neither_take_nor_junk_nor_merge_an_admins_lead(
    client: FlaskClient, session: Session, team: Team
) -> None:
    """The issue's attack: take the admin's lead, then junk it, or merge it into your own."""
    theirs = make_lead(session, team, team.admin.id)
    mine = make_lead(session, team, team.rep.id)
    headers = {"Authorization": f"Bearer {api_token(team.rep)}"}
    before = lead_rows(session)

    taken = client.patch(
        f"/api/v1/leads/{theirs.id}", json={"owner_id": team.rep.id}, headers=headers
    )
    assert taken.status_code == 403
    assert taken.json["error"]["message"] == (
        f"you may not take {theirs.name}: it belongs to another rep, and reps can take leads"
        " only when the lead is theirs or nobody's"
    )
    junked = client.post(f"/api/v1/leads/{theirs.id}/not-a-lead", json={}, headers=headers)
    assert junked.status_code == 403
    assert "you may not remove" in junked.json["error"]["message"]
    for keep, other in ((mine, theirs), (theirs, mine)):
        merged = client.post(
            f"/api/v1/leads/{keep.id}/merge", json={"lead_id": other.id}, headers=headers
        )
        assert merged.status_code == 403
        assert f"you may not merge {theirs.name}" in merged.json["error"]["message"]
    assert lead_rows(session) == before  # the lead, its note and its history are all there
    assert session.get_one(Lead, theirs.id).owner_id == team.admin.id


def test_pages_offer_only_what_the_viewer_may_do(
    client: FlaskClient, session: Session, team: Team
) -> None:
    theirs = make_lead(session, team, team.admin.id)
    mine = make_lead(session, team, team.rep.id)
    sign_in(client, team.rep)
    own_page, their_page = (
        client.get(f"/leads/{mine.id}").text,
        client.get(f"/leads/{theirs.id}").text,
    )
    assert 'class="not-a-lead"' in own_page
    assert 'class="merge"' in own_page
    assert 'value="domain"' not in own_page  # admins block domains
    assert 'class="not-a-lead"' not in their_page
    assert 'class="merge"' not in their_page
    board = client.get("/board").text
    assert f'<input type="hidden" name="lead_id" value="{mine.id}">' in board
    assert f'<input type="hidden" name="lead_id" value="{theirs.id}">' not in board
    assert f'data-lead="{theirs.id}" draggable' not in board
    assert f'data-lead="{mine.id}" draggable="true"' in board

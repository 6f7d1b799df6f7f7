"""Merging two leads from the lead page's form and through the API."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import Base
from inboxcrm.leads.models import Lead
from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    NoteFactory,
    ThreadFactory,
    api_token,
)
from tests.support.web import csrf_token, sign_in


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    session.expire_all()
    return {
        table.name: sorted(tuple(row) for row in session.execute(select(table)))
        for table in Base.metadata.sorted_tables
        if table.name != "api_token"  # last_used_at moves on every API call
    }


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'class="flash[^"]*"[^>]*>([^<]+)<', page)]


@pytest.fixture
def rep(session: Session) -> Member:
    return MemberFactory()


@pytest.fixture
def pair(session: Session, rep: Member) -> tuple[Lead, Lead]:
    keep = LeadFactory(owner=rep, email="ann@acme.com", name="Ann Smith")
    other = LeadFactory(
        owner=rep, email="ann.smith@gmail.com", other_emails=["ann@home.example"], name="Ann Smith"
    )
    box = MailboxFactory(member=rep)
    for _ in range(5):
        ThreadFactory(mailbox=box, leads=[other])
    for i in range(3):
        NoteFactory(lead=other, body=f"note {i}")
    return keep, other


def render_form(app: Flask, lead: Lead, me: Member | None) -> str:
    with app.test_request_context():
        return render_template("leads/_merge.html", lead=lead, me=me)


def post_form(client: FlaskClient, form_html: str, value: str) -> Any:
    """Submit the partial's form as a browser would: its action, its fields, one typed value."""
    action = re.search(r'<form[^>]* action="([^"]+)"', form_html)
    field = re.search(r'<input id="[^"]+" name="([^"]+)"', form_html)
    assert action
    assert field
    token = csrf_token(client.get("/leads").text)
    return client.post(
        html.unescape(action.group(1)),
        data={"csrf_token": token, field.group(1): value},
        follow_redirects=True,
    )


def confirm(client: FlaskClient, preview: Any) -> Any:
    """Press the preview's confirm button, with the fields it carries."""
    assert preview.status_code == 200, preview.text
    form = preview.text[preview.text.index('<section class="card narrow-wide confirm"') :]
    action = re.search(r'<form method="post" action="([^"]+)"', form)
    assert action
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return client.post(html.unescape(action.group(1)), data=fields, follow_redirects=True)


def test_the_form_merges_and_says_what_moved(
    app: Flask, client: FlaskClient, session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    keep_id, other_id = keep.id, other.id
    form = render_form(app, keep, rep)
    assert "Merge with (email or lead id)" in form
    assert 'name="csrf_token"' in form
    sign_in(client, rep)
    before = snapshot(session)
    preview = post_form(client, form, "Ann.Smith@Gmail.com")
    assert "Merge Ann Smith &lt;ann.smith@gmail.com&gt; into Ann Smith?" in preview.text
    assert "Merging Ann Smith into Ann Smith: 2 addresses, 5 threads, 3 notes would move" in (
        preview.text
    )
    assert snapshot(session) == before  # only shown, nothing merged yet
    response = confirm(client, preview)
    assert response.status_code == 200
    assert response.request.path == f"/leads/{keep_id}"
    assert flashes(response.text) == [
        "Merged Ann Smith into Ann Smith: 2 addresses, 5 threads, 3 notes."
    ]
    assert "ann@home.example" in response.text  # the kept lead's card shows the new address
    session.expire_all()
    assert session.get(Lead, other_id) is None
    assert client.get(f"/leads/{other_id}").status_code == 404


def test_the_form_takes_a_lead_id_too(
    app: Flask, client: FlaskClient, session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    sign_in(client, rep)
    response = confirm(client, post_form(client, render_form(app, keep, rep), f"#{other.id}"))
    assert flashes(response.text)[0].startswith("Merged Ann Smith into Ann Smith")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Nothing was merged: enter the other lead's email address or id"),
        ("nobody@acme.com", "Nothing was merged: no lead has the address nobody@acme.com"),
        ("{keep}", "Nothing was merged: a lead cannot be merged with itself"),
        ("{outsider}", "Nothing was merged: lead {outsider} not found"),
        ("Ann", "Nothing was merged: 'Ann' is neither an email address nor a lead id"),
    ],
)
def test_bad_input_on_the_form_merges_nothing_and_says_why(
    app: Flask,
    client: FlaskClient,
    session: Session,
    rep: Member,
    pair: tuple[Lead, Lead],
    typed: str,
    message: str,
) -> None:
    keep, _other = pair
    outsider = LeadFactory(email="eve@elsewhere.example")
    ids = {"keep": keep.id, "outsider": outsider.id}
    form = render_form(app, keep, rep)
    sign_in(client, rep)
    before = snapshot(session)
    response = post_form(client, form, typed.format(**ids))
    assert response.request.path == f"/leads/{keep.id}"
    assert flashes(response.text) == [message.format(**ids)]
    assert snapshot(session) == before


def test_marketers_are_not_offered_the_form_and_cannot_post_it(
    app: Flask, client: FlaskClient, session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    marketer = MemberFactory(workspace=rep.workspace, role=Role.marketer)
    assert "<form" not in render_form(app, keep, marketer)
    sign_in(client, marketer)
    before = snapshot(session)
    response = post_form(client, render_form(app, keep, rep), other.email)
    assert response.status_code == 403
    assert "marketers cannot merge leads" in response.text
    assert snapshot(session) == before


def test_another_workspaces_lead_page_is_a_404(
    app: Flask, client: FlaskClient, session: Session, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    intruder = MemberFactory(role=Role.admin)  # a workspace of its own
    sign_in(client, intruder)
    before = snapshot(session)
    response = post_form(client, render_form(app, keep, intruder), other.email)
    assert response.status_code == 404
    assert snapshot(session) == before


def test_the_form_needs_its_csrf_token(
    client: FlaskClient, session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    sign_in(client, rep)
    before = snapshot(session)
    response = client.post(f"/leads/{keep.id}/merge", data={"other_lead_id": other.email})
    assert response.status_code == 400
    assert snapshot(session) == before


# --- API ------------------------------------------------------------------------------------


def test_the_api_merges_and_returns_the_kept_lead(
    client: FlaskClient, session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    auth = {"Authorization": f"Bearer {api_token(rep)}"}
    response = client.post(
        f"/api/v1/leads/{keep.id}/merge", json={"lead_id": other.id}, headers=auth
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["id"], body["email"]) == (keep.id, "ann@acme.com")
    assert body["other_emails"] == ["ann.smith@gmail.com", "ann@home.example"]
    assert client.get(f"/api/v1/leads/{other.id}", headers=auth).status_code == 404
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Lead)) == 1


@pytest.mark.parametrize(
    ("url", "body", "status", "message"),
    [
        ("{keep}", {"lead_id": "{keep}"}, 409, "a lead cannot be merged with itself"),
        ("{keep}", {"lead_id": "{outsider}"}, 404, "lead {outsider} not found"),
        ("{outsider}", {"lead_id": "{other}"}, 404, "lead {outsider} not found"),
        ("{keep}", {"lead_id": 999999}, 404, "lead 999999 not found"),
        ("{keep}", {}, 422, "the request has invalid fields"),
        ("{keep}", {"lead_id": "abc"}, 422, "the request has invalid fields"),
        ("{keep}", {"lead_id": True}, 422, "the request has invalid fields"),
        ("{keep}", {"lead_id": "{other}", "keep": "both"}, 422, "the request has invalid fields"),
        ("{keep}", ["{other}"], 400, "the body must be a JSON object"),
    ],
)
def test_refused_api_merges_say_why_and_change_nothing(
    client: FlaskClient,
    session: Session,
    rep: Member,
    pair: tuple[Lead, Lead],
    url: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    keep, other = pair
    outsider = LeadFactory(email="eve@elsewhere.example")
    ids = {"keep": keep.id, "other": other.id, "outsider": outsider.id}

    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{"):
            return int(value.format(**ids))
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    auth = {"Authorization": f"Bearer {api_token(rep)}"}
    before = snapshot(session)
    response = client.post(
        f"/api/v1/leads/{url.format(**ids)}/merge", json=fill(body), headers=auth
    )
    assert response.status_code == status, response.json
    assert response.json["error"]["message"] == message.format(**ids)
    assert snapshot(session) == before


def test_marketers_cannot_merge_through_the_api(
    client: FlaskClient, session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    marketer = MemberFactory(workspace=rep.workspace, role=Role.marketer)
    before = snapshot(session)
    response = client.post(
        f"/api/v1/leads/{keep.id}/merge",
        json={"lead_id": other.id},
        headers={"Authorization": f"Bearer {api_token(marketer)}"},
    )
    assert response.status_code == 403
    assert response.json["error"]["message"] == "marketers cannot merge leads"
    assert snapshot(session) == before

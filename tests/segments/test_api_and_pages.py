"""Segments through /api/v1 and the pages: create, read, evaluate, delete; the builder's live
count; the list with counts; the leads table's filter saved as a segment."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.leads.models import Lead
from tests.factories import MemberFactory, api_token
from tests.support.web import csrf_token, sign_in


def bearer(member: Member) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(member)}"}


VIP = {"field": "tag", "op": "has", "value": "vip"}


def test_the_api_creates_reads_evaluates_and_deletes_a_segment(
    client: FlaskClient, marketer: Member, people: dict[str, Lead]
) -> None:
    auth = bearer(marketer)
    created = client.post("/api/v1/segments", json={"name": "VIPs", "filter": VIP}, headers=auth)
    assert created.status_code == 201, created.json
    seg = created.json
    assert created.headers["Location"].endswith(f"/api/v1/segments/{seg['id']}")

    read = client.get(f"/api/v1/segments/{seg['id']}", headers=auth).json
    assert (read["name"], read["filter"], read["count"]) == ("VIPs", VIP, 1)
    listed = client.get("/api/v1/segments", headers=auth).json["segments"]
    assert [(s["name"], s["count"]) for s in listed] == [("VIPs", 1)]

    page = client.get(f"/api/v1/segments/{seg['id']}/leads", headers=auth).json
    assert page["count"] == 1
    assert [lead["email"] for lead in page["leads"]] == [people["ann"].email]
    unsaved = client.post(
        "/api/v1/segments/evaluate",
        json={"filter": {"field": "score", "op": "lt", "value": 50}},
        headers=auth,
    ).json
    assert unsaved["count"] == 2

    patched = client.patch(
        f"/api/v1/segments/{seg['id']}", json={"name": "Very important"}, headers=auth
    )
    assert patched.json["name"] == "Very important"
    assert client.delete(f"/api/v1/segments/{seg['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/segments/{seg['id']}", headers=auth).status_code == 404


def test_the_api_refuses_a_bad_filter_saying_what_is_wrong(
    client: FlaskClient, marketer: Member, session: Session
) -> None:
    auth = bearer(marketer)
    cases: list[tuple[Any, str]] = [
        ({"field": "favourite_colour", "op": "is", "value": "red"}, "unknown field"),
        ({"and": [{"field": "score", "op": "gte", "value": "high"}]}, "and[0]: score gte"),
        ({"field": "segment", "op": "in", "value": 4242}, "does not exist"),
        # What an activity came from: a campaign or sequence that exists, a step from 1.
        (
            {
                "and": [
                    {"field": "activity", "kind": "open", "op": "ever", "of": {"campaign": 4242}}
                ]
            },
            "and[0]: there is no campaign 4242 in this workspace",
        ),
        (
            {"field": "activity", "kind": "reply", "op": "ever", "of": {"sequence": 4242}},
            "there is no sequence 4242",
        ),
        (
            {"field": "activity", "kind": "open", "op": "ever", "of": {"campaign": "Spring"}},
            "of campaign takes an id (a whole number), got text",
        ),
        (
            {
                "field": "activity",
                "kind": "message_out",
                "op": "ever",
                "of": {"sequence": 1, "step": 0},
            },
            "steps are numbered from 1, got 0",
        ),
        (
            {
                "field": "activity",
                "kind": "message_out",
                "op": "ever",
                "of": {"sequence": 1, "step": "2"},
            },
            "of step takes a step number",
        ),
    ]
    for raw, said in cases:
        answer = client.post("/api/v1/segments", json={"name": "Bad", "filter": raw}, headers=auth)
        assert answer.status_code == 422, answer.json
        assert said in answer.json["error"]["message"]
        assert "filter" in answer.json["error"]["fields"]
    # A segment naming itself, through the API.
    made = client.post("/api/v1/segments", json={"name": "A", "filter": VIP}, headers=auth).json
    selfish = {"field": "segment", "op": "in", "value": made["id"]}
    answer = client.patch(f"/api/v1/segments/{made['id']}", json={"filter": selfish}, headers=auth)
    assert answer.status_code == 422
    assert "cannot include itself" in answer.json["error"]["message"]


def test_reps_may_read_and_evaluate_but_not_manage(
    client: FlaskClient, marketer: Member, people: dict[str, Lead]
) -> None:
    made = client.post(
        "/api/v1/segments", json={"name": "VIPs", "filter": VIP}, headers=bearer(marketer)
    ).json
    rep = bearer(MemberFactory(workspace=marketer.workspace, role=Role.rep))
    assert client.get(f"/api/v1/segments/{made['id']}", headers=rep).json["count"] == 1
    assert client.get(f"/api/v1/segments/{made['id']}/leads", headers=rep).status_code == 200
    refused = client.post("/api/v1/segments", json={"name": "X", "filter": VIP}, headers=rep)
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == "reps cannot manage segments"
    assert client.delete(f"/api/v1/segments/{made['id']}", headers=rep).status_code == 403
    # Another workspace's segment does not exist for a stranger.
    stranger = bearer(MemberFactory(role=Role.admin))
    assert client.get(f"/api/v1/segments/{made['id']}", headers=stranger).status_code == 404


def test_the_builder_counts_saves_and_explains(
    client: FlaskClient, marketer: Member, people: dict[str, Lead]
) -> None:
    sign_in(client, marketer)
    builder = client.get("/segments/new")
    token = csrf_token(builder.text)
    live = client.post(
        "/segments/preview",
        json={"filter": {"field": "score", "op": "gte", "value": 40}},
        headers={"X-CSRFToken": token},
    )
    assert live.status_code == 200, live.text
    assert live.json["count"] == 2
    assert {lead["name"] for lead in live.json["leads"]} == {"Ann Archer", "Cid Cole"}
    wrong = client.post(
        "/segments/preview",
        json={"filter": {"field": "score", "op": "gte", "value": "x"}},
        headers={"X-CSRFToken": token},
    )
    assert wrong.status_code == 422
    assert "score gte takes a number" in wrong.json["error"]["message"]
    unknown = client.post(
        "/segments/preview",
        json={"filter": {"field": "activity", "kind": "open", "op": "ever",
                         "of": {"campaign": 4242}}},
        headers={"X-CSRFToken": token},
    )  # fmt: skip
    assert unknown.status_code == 422
    assert "there is no campaign 4242" in unknown.json["error"]["message"]

    saved = client.post(
        "/segments",
        data={"csrf_token": token, "name": "Engaged", "filter": json.dumps(VIP)},
    )
    assert saved.status_code == 302
    listing = client.get("/segments").text
    assert "Engaged" in listing
    assert "<td data-count>1</td>" in listing

    segment_url = saved.location
    why = client.get(f"{segment_url}/why", query_string={"lead": people["bob"].email}).text
    assert 'data-verdict="out"' in why
    assert "Tag includes vip" in why
    why = client.get(f"{segment_url}/why", query_string={"lead": str(people["ann"].id)}).text
    assert 'data-verdict="in"' in why


def test_the_leads_table_filter_becomes_a_segment(
    client: FlaskClient, marketer: Member, people: dict[str, Lead]
) -> None:
    sign_in(client, marketer)
    table = client.get("/leads", query_string={"tag": "vip", "owner": "any"}).text
    assert "Save as segment" in table
    builder = client.get("/segments/new", query_string={"from": "leads", "tag": "vip"}).text
    assert '{"field": "tag", "op": "has", "value": "vip"}' in builder


def test_a_bad_saved_filter_shows_the_problem_and_keeps_what_was_typed(
    client: FlaskClient, marketer: Member
) -> None:
    sign_in(client, marketer)
    token = csrf_token(client.get("/segments/new").text)
    raw = {"field": "score", "op": "between", "value": 3}
    answer = client.post(
        "/segments", data={"csrf_token": token, "name": "Broken", "filter": json.dumps(raw)}
    )
    assert answer.status_code == 422
    assert "score has no operator" in answer.text
    assert 'value="Broken"' in answer.text

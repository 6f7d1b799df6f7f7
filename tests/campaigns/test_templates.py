"""Templates on a real database: versions, the API's preview for a lead, and the page's
preview as the leads of a segment with the leads it fails for."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.campaigns.templates import create_template, update_template
from inboxcrm.db import utcnow
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.segments.service import create_segment
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.web import sign_in

BODY = (
    "Hi {{ lead.first_name }},\n\nAs {{ lead.title }} at {{ company.name | default('your team') }}"
)


@pytest.fixture
def marketer(session: Session) -> Member:
    return MemberFactory(role=Role.marketer, name="Mia Marketer")


def test_editing_the_text_makes_a_new_version_and_keeps_the_old(
    session: Session, marketer: Member
) -> None:
    scope = Scope(session, marketer.workspace_id)
    template = create_template(scope, marketer, "Intro", "Hello", "Body one", utcnow())
    first = template.current
    update_template(scope, marketer, template, utcnow(), name="Intro mail")
    assert [v.number for v in template.versions] == [1]  # a rename is no new text
    update_template(scope, marketer, template, utcnow(), body="Body two")
    session.commit()
    assert [(v.number, v.body) for v in template.versions] == [(1, "Body one"), (2, "Body two")]
    assert first.body == "Body one"
    assert template.current.number == 2
    with pytest.raises(Invalid, match="body line 1"):
        update_template(scope, marketer, template, utcnow(), body="{{ ''.__class__ }}")
    rep = MemberFactory(workspace=marketer.workspace, role=Role.rep)
    with pytest.raises(Forbidden, match="reps cannot manage templates"):
        create_template(scope, rep, "Mine", "Hi", "x", utcnow())


def test_the_api_creates_updates_and_previews_for_a_lead(
    client: FlaskClient, marketer: Member
) -> None:
    auth = {"Authorization": f"Bearer {api_token(marketer)}"}
    ann = LeadFactory(owner=marketer, name="Ann Archer", title="CFO", company="Acme")
    bob = LeadFactory(owner=marketer, name="Bob Baker", email="bob.baker@gmail.com")  # no company
    made = client.post(
        "/api/v1/templates",
        json={"name": "Intro", "subject": "Hi {{ lead.first_name }}", "body": BODY},
        headers=auth,
    )
    assert made.status_code == 201, made.json
    tid = made.json["id"]
    shown = client.post(f"/api/v1/templates/{tid}/preview", json={"lead_id": ann.id}, headers=auth)
    assert shown.status_code == 200, shown.json
    assert shown.json["subject"] == "Hi Ann"
    assert "As CFO at Acme" in shown.json["html"]
    assert shown.json["version"] == 1
    failed = client.post(f"/api/v1/templates/{tid}/preview", json={"lead_id": bob.id}, headers=auth)
    assert failed.status_code == 422
    assert failed.json["error"]["fields"] == {
        "part": "body",
        "line": "3",
        "reason": failed.json["error"]["fields"]["reason"],
    }
    assert "lead.title is missing" in failed.json["error"]["message"]

    fixed = client.patch(
        f"/api/v1/templates/{tid}",
        json={"body": BODY.replace("lead.title", "lead.title | default('a leader')")},
        headers=auth,
    )
    assert (fixed.json["version"]["number"], fixed.json["versions"]) == (2, 2)
    shown = client.post(f"/api/v1/templates/{tid}/preview", json={"lead_id": bob.id}, headers=auth)
    assert "As a leader at your team" in shown.json["text"]
    old = client.post(
        f"/api/v1/templates/{tid}/preview", json={"lead_id": bob.id, "version": 1}, headers=auth
    )
    assert old.status_code == 422  # version 1 is kept as it was

    bad = client.post(
        "/api/v1/templates",
        json={"name": "Evil", "subject": "x", "body": "{{ config.SECRET_KEY }}"},
        headers=auth,
    )
    assert bad.status_code in (201, 422)
    if bad.status_code == 201:
        answer = client.post(
            f"/api/v1/templates/{bad.json['id']}/preview", json={"lead_id": ann.id}, headers=auth
        )
        assert "test-secret-key" not in answer.text


def test_the_page_previews_each_lead_of_a_segment_and_lists_who_it_fails_for(
    client: FlaskClient, session: Session, marketer: Member
) -> None:
    scope = Scope(session, marketer.workspace_id)
    LeadFactory(owner=marketer, name="Ann Archer", title="CFO", tags=["launch"])
    LeadFactory(owner=marketer, name="Bob Baker", tags=["launch"])
    LeadFactory(owner=marketer, name="Cid Cole", title="CTO")  # not in the segment
    segment = create_segment(
        scope, marketer, "Launch", {"field": "tag", "op": "has", "value": "launch"}
    )
    template = create_template(scope, marketer, "Intro", "Hi {{ lead.first_name }}", BODY, utcnow())
    session.commit()
    sign_in(client, marketer)

    page = client.get(f"/templates/{template.id}", query_string={"segment": segment.id}).text
    assert "Lead 1 of 2" in page
    assert 'data-failures="1"' in page
    assert "Bob Baker</a>: body line 3: lead.title is missing" in page
    first = client.get(f"/templates/{template.id}", query_string={"segment": segment.id}).text
    second = client.get(
        f"/templates/{template.id}", query_string={"segment": segment.id, "at": 1}
    ).text
    # Newest first: Bob, whose preview fails, then Ann, whose does not.
    assert "lead.title is missing" in first.split("Leads it fails for")[0]
    assert "<strong>Subject:</strong> <span data-preview-subject>Hi Ann</span>" in second

"""The score actions' settings: defaults found by stage kind and position, admins edit
on /settings/actions and through the API, others read, bad values refused per field."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.scoring.actions.settings import load
from inboxcrm.tenancy import Scope
from tests.factories import MemberFactory, api_token
from tests.support.stages import stages
from tests.support.web import csrf_token, sign_in


@pytest.fixture
def admin(session: Session) -> Member:
    return MemberFactory(role=Role.admin)


def auth(member: Member) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(member)}"}


def test_the_default_moves_the_first_open_stage_to_the_next_whatever_their_names(
    client: FlaskClient, session: Session, admin: Member
) -> None:
    by_name = stages(session, admin)
    by_name["Lead"].name, by_name["MQL"].name = "New", "Qualified"
    session.commit()
    got = client.get("/api/v1/settings/actions", headers=auth(admin)).json
    assert got == {
        "move": {"on": True, "score": 50, "from_stage_id": by_name["Lead"].id,
                 "to_stage_id": by_name["MQL"].id},
        "notify_hot": True,
        "waiting": {"on": True, "minutes": 45},
    }  # fmt: skip


def test_an_admin_changes_them_on_the_page_and_a_rep_only_reads(
    client: FlaskClient, session: Session, admin: Member
) -> None:
    by_name = stages(session, admin)
    sign_in(client, admin)
    page = client.get("/settings/actions")
    form = {"csrf_token": csrf_token(page.text), "move_on": "on", "move_score": "60",
            "move_from_id": str(by_name["MQL"].id), "move_to_id": str(by_name["SQL"].id),
            "wait_minutes": "30"}  # fmt: skip
    saved = client.post("/settings/actions", data=form)
    assert saved.status_code == 302
    actions = load(Scope(session, admin.workspace_id))
    assert (actions.move_score, actions.move_from_id, actions.move_to_id) == (
        60, by_name["MQL"].id, by_name["SQL"].id)  # fmt: skip
    assert (actions.notify_hot, actions.notify_waiting, actions.wait_minutes) == (False, False, 30)
    rep = MemberFactory(workspace=admin.workspace, role=Role.rep)
    client.post("/signout", data={"csrf_token": csrf_token(page.text)})
    sign_in(client, rep)
    shown = client.get("/settings/actions")
    assert shown.status_code == 200
    assert "Only admins change these settings." in shown.text
    assert 'value="60"' in shown.text
    refused = client.post("/settings/actions", data={**form, "csrf_token": csrf_token(shown.text)})
    assert refused.status_code == 403
    assert client.patch("/api/v1/settings/actions", json={"move_score": 10},
                        headers=auth(rep)).status_code == 403  # fmt: skip


def test_bad_values_are_refused_with_a_message_per_field(
    client: FlaskClient, session: Session, admin: Member
) -> None:
    by_name = stages(session, admin)
    bad = {"move_score": "lots", "wait_minutes": 0, "move_from_id": by_name["Won"].id,
           "move_to_id": 99999}  # fmt: skip
    answer = client.patch("/api/v1/settings/actions", json=bad, headers=auth(admin))
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {
        "move_score": "the score is a whole number from 1 to 1,000",
        "wait_minutes": "the wait is a whole number from 5 to 1,440",
        "move_from_id": "Won is won: a score never reopens it",
        "move_to_id": "choose one of the workspace's stages",
    }
    backwards = {"move_from_id": by_name["SQL"].id, "move_to_id": by_name["MQL"].id}
    answer = client.patch("/api/v1/settings/actions", json=backwards, headers=auth(admin))
    assert answer.json["error"]["fields"] == {
        "move_to_id": "the rule moves leads forward: choose a stage after SQL"
    }
    lost = {"move_to_id": by_name["Lost"].id}
    answer = client.patch("/api/v1/settings/actions", json=lost, headers=auth(admin))
    assert answer.json["error"]["fields"] == {"move_to_id": "a score never marks a lead lost"}
    assert load(Scope(session, admin.workspace_id)).move_score == 50  # nothing kept
    sign_in(client, admin)
    page = client.get("/settings/actions")
    shown = client.post("/settings/actions", data={"csrf_token": csrf_token(page.text),
                        "move_on": "on", "move_score": "-3", "wait_minutes": "45",
                        "move_from_id": str(by_name["Lead"].id),
                        "move_to_id": str(by_name["MQL"].id)})  # fmt: skip
    assert shown.status_code == 422
    assert "the score is a whole number from 1 to 1,000" in shown.text
    assert 'value="-3"' in shown.text  # what was typed, to fix
    ok = client.patch("/api/v1/settings/actions", json={"move_score": 70}, headers=auth(admin))
    assert (ok.status_code, ok.json["move"]["score"]) == (200, 70)

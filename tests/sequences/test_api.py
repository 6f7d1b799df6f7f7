"""Sequences through /api/v1 and what members may do: marketers and admins create and edit,
reps enroll their own leads in shared sequences; bad steps refused with what to fix; the
preview says who would not be enrolled and why; unenrolling records it; results count."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.campaigns.templates import create_template
from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.models import Suppression, SuppressionReason
from inboxcrm.sequences.models import Enrollment
from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MailboxFactory, MemberFactory, api_token
from tests.support.web import csrf_token, sign_in


def bearer(member: Member) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(member)}"}


@pytest.fixture
def marketer(session: Session) -> Member:
    return MemberFactory(role=Role.marketer, name="Mia Marketer")


@pytest.fixture
def rep(session: Session, marketer: Member) -> Member:
    rep = MemberFactory(workspace=marketer.workspace, name="Rita Rep")
    MailboxFactory(member=rep)
    return rep


@pytest.fixture
def steps(session: Session, marketer: Member) -> list[dict[str, Any]]:
    scope = Scope(session, marketer.workspace_id)
    first = create_template(scope, marketer, "One", "Hello", "Hi {{ lead.first_name }}", utcnow())
    second = create_template(scope, marketer, "Two", "Again", "Hi again", utcnow())
    session.commit()
    return [
        {"kind": "email", "template_id": first.id},
        {"kind": "wait", "wait_amount": 2, "wait_unit": "business_days"},
        {
            "kind": "email",
            "template_id": second.id,
            "threading": "follow_up",
            "condition": "not_clicked",
        },
        {"kind": "task", "task": "Call them"},
    ]


def _create(client: FlaskClient, who: Member, steps: Any, name: str = "Nurture") -> Any:
    return client.post(
        "/api/v1/sequences", json={"name": name, "steps": steps}, headers=bearer(who)
    )


def test_marketers_create_sequences_and_reps_enroll_their_own_leads(
    client: FlaskClient, session: Session, marketer: Member, rep: Member, steps: Any
) -> None:
    created = _create(client, marketer, steps)
    assert created.status_code == 201, created.json
    seq = created.json
    assert [s["kind"] for s in seq["steps"]] == ["email", "wait", "email", "task"]
    assert _create(client, rep, steps, "Mine").status_code == 403
    assert (
        client.patch(
            f"/api/v1/sequences/{seq['id']}", json={"name": "X"}, headers=bearer(rep)
        ).status_code
        == 403
    )
    own = LeadFactory(owner=rep, name="Ana Lima")
    other = LeadFactory(owner=MemberFactory(workspace=rep.workspace), name="Ben Other")
    url = f"/api/v1/sequences/{seq['id']}/enroll"
    done = client.post(url, json={"lead_ids": [own.id]}, headers=bearer(rep))
    assert done.status_code == 201, done.json
    assert client.post(url, json={"lead_ids": [other.id]}, headers=bearer(rep)).status_code == 403
    again = client.post(url, json={"lead_ids": [own.id]}, headers=bearer(rep)).json
    assert again == {
        "enrolled": [],
        "refused": [{"lead_id": own.id, "reason": "already in this sequence"}],
    }
    (enrollment_id,) = done.json["enrolled"]
    stats = client.get(f"/api/v1/sequences/{seq['id']}/stats", headers=bearer(rep)).json
    assert (stats["enrolled"], stats["active"]) == (1, 1)
    out = client.post(f"/api/v1/enrollments/{enrollment_id}/unenroll", headers=bearer(rep)).json
    assert (out["state"], out["exit_reason"]) == ("exited", "manual")
    assert [h["kind"] for h in out["history"]] == ["enrolled", "exited"]
    assert out["history"][-1]["detail"] == "manual: by Rita Rep"


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ([], "a sequence needs at least one step"),
        ([{"kind": "email"}], "step 1: an email step needs a template"),
        (
            [{"kind": "wait", "wait_amount": 0, "wait_unit": "days"}],
            "step 1: a wait must be longer than zero",
        ),
        ([{"kind": "wait", "wait_amount": 10, "wait_unit": "years"}], "'years' is not one of"),
        (
            [{"kind": "wait", "wait_amount": 3650, "wait_unit": "days"}],
            "step 1: a wait can be at most a year",
        ),
        ([{"kind": "dance"}], "'dance' is not one of email, wait, task"),
        ("steps", "steps: a list of steps"),
    ],
)
def test_bad_steps_are_refused_saying_what_to_fix(
    client: FlaskClient, marketer: Member, bad: Any, says: str
) -> None:
    answer = _create(client, marketer, bad)
    assert answer.status_code == 422
    assert says in answer.json["error"]["message"]


def test_the_preview_says_who_would_not_be_enrolled_and_why(
    client: FlaskClient, session: Session, marketer: Member, rep: Member, steps: Any
) -> None:
    first = _create(client, marketer, steps, "First").json
    second = _create(client, marketer, steps, "Second").json
    fine, busy, gone, lost = (LeadFactory(owner=rep) for _ in range(4))
    session.add(
        Suppression(
            workspace_id=rep.workspace_id,
            pattern=gone.email,
            reason=SuppressionReason.unsubscribed,
            source="api",
        )
    )
    lost_stage = (
        session.query(Stage).filter_by(workspace_id=rep.workspace_id, kind=StageKind.lost).first()
    )
    assert lost_stage is not None
    session.get_one(Lead, lost.id).stage_id = lost_stage.id
    session.commit()
    client.post(
        f"/api/v1/sequences/{first['id']}/enroll", json={"lead_ids": [busy.id]}, headers=bearer(rep)
    )
    ids = [fine.id, busy.id, gone.id, lost.id, 999_999]
    seen = client.post(
        f"/api/v1/sequences/{second['id']}/preview", json={"lead_ids": ids}, headers=bearer(rep)
    ).json["leads"]
    assert [(v["lead_id"], v["reason"]) for v in seen] == [
        (fine.id, None),
        (busy.id, "in another sequence: First"),
        (gone.id, "suppressed (unsubscribed)"),
        (lost.id, "in the stage Lost"),
        (999_999, "no such lead"),
    ]
    bad = client.post(
        f"/api/v1/sequences/{second['id']}/preview", json={"lead_ids": "all"}, headers=bearer(rep)
    )
    assert bad.status_code == 400


def test_another_workspaces_sequence_is_not_found(
    client: FlaskClient, marketer: Member, steps: Any
) -> None:
    seq = _create(client, marketer, steps).json
    stranger = MemberFactory(role=Role.admin)
    assert client.get(f"/api/v1/sequences/{seq['id']}", headers=bearer(stranger)).status_code == 404


def test_a_rep_enrolls_from_the_leads_table_after_a_preview_and_sees_it_on_the_lead_page(
    client: FlaskClient, session: Session, marketer: Member, rep: Member, steps: Any
) -> None:
    seq = _create(client, marketer, steps).json
    ana, gone = LeadFactory(owner=rep, name="Ana Lima"), LeadFactory(owner=rep, name="Gus Gone")
    session.add(
        Suppression(
            workspace_id=rep.workspace_id,
            pattern=gone.email,
            reason=SuppressionReason.hard_bounce,
            source="bounce",
        )
    )
    session.commit()
    sign_in(client, rep)
    table = client.get("/leads").get_data(as_text=True)
    token = csrf_token(table)
    assert "data-bulk-enroll" in table
    form = {
        "csrf_token": token,
        "lead_ids": [str(ana.id), str(gone.id)],
        "sequence_id": str(seq["id"]),
        "next": "/leads",
    }
    preview = client.post("/sequences/enroll", data=form).get_data(as_text=True)
    assert "1 would be enrolled in Nurture, 1 not." in preview
    assert "no: suppressed (hard bounce)" in preview
    done = client.post("/sequences/enroll", data={**form, "confirm": "1"})
    assert done.status_code == 302
    page = client.get(f"/leads/{ana.id}").get_data(as_text=True)
    assert 'data-state="active"' in page
    assert "Nurture" in page
    listing = client.get("/sequences").get_data(as_text=True)
    assert "Re-engagement of cold leads" in listing  # on by default
    enrollment = session.scalars(select(Enrollment)).one()
    history = client.get(f"/enrollments/{enrollment.id}").get_data(as_text=True)
    assert f"enrolled: by {rep.name}" in history

"""Sequences under /api/v1: list, create, read, change (steps too, while live), pause,
resume, results; preview and enroll, enrollments with their history, unenroll; tasks;
the re-engagement policy and report. Marketers and admins create and change sequences;
anyone enrolls the leads they may edit (a rep: their own and unowned ones)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, request, url_for
from sqlalchemy import select

from inboxcrm.accounts.permissions import Managed, require_manager
from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest, Invalid
from inboxcrm.sequences import service, stats
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentEvent,
    Sequence,
    Task,
    Trigger,
    TriggerKind,
)
from inboxcrm.sequences.triggers import describe, policy_of
from inboxcrm.web import db_session, member, scope

bp = Blueprint("sequences", __name__)


def step_json(step: Any) -> dict[str, Any]:
    return {
        "id": step.id,
        "kind": step.kind.value,
        "template_version_id": step.template_version_id,
        "threading": step.threading.value,
        "condition": step.condition.value if step.condition else None,
        "wait_amount": step.wait_amount,
        "wait_unit": step.wait_unit.value if step.wait_unit else None,
        "task": step.task,
    }


def sequence_json(sequence: Sequence) -> dict[str, Any]:
    return {
        "id": sequence.id,
        "name": sequence.name,
        "state": sequence.state.value,
        "reengagement": sequence.reengagement,
        "mailbox_id": sequence.mailbox_id,
        "window": sequence.window,
        "exit_on_company_reply": sequence.exit_on_company_reply,
        "exit_stage_kinds": sequence.exit_stage_kinds,
        "exclusive": sequence.exclusive,
        "reenroll_after_days": sequence.reenroll_after_days,
        "on_template_error": sequence.on_template_error.value,
        "rewarmed_stage_id": sequence.rewarmed_stage_id,
        "no_response_stage_id": sequence.no_response_stage_id,
        "steps": [step_json(s) for s in sequence.live_steps],
        "triggers": [
            {
                "id": t.id,
                "kind": t.kind.value,
                "describe": describe(t),
                "stage_id": t.stage_id,
                "segment_id": t.segment_id,
                "score": t.score,
            }
            for t in db_session().scalars(select(Trigger).where(Trigger.sequence_id == sequence.id))
        ],
    }


def enrollment_json(enrollment: Enrollment, history: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": enrollment.id,
        "sequence_id": enrollment.sequence_id,
        "lead_id": enrollment.lead_id,
        "state": enrollment.state.value,
        "step_id": enrollment.step_id,
        "next_at": enrollment.next_at.isoformat() if enrollment.next_at else None,
        "enrolled_at": enrollment.enrolled_at.isoformat(),
        "enrolled_by": enrollment.enrolled_by,
        "ended_at": enrollment.ended_at.isoformat() if enrollment.ended_at else None,
        "exit_reason": enrollment.exit_reason.value if enrollment.exit_reason else None,
        "outcome": enrollment.outcome.value if enrollment.outcome else None,
    }
    if history:
        out["history"] = [
            {"at": e.at.isoformat(), "kind": e.kind.value, "step_id": e.step_id, "detail": e.detail}
            for e in db_session().scalars(
                select(EnrollmentEvent)
                .where(EnrollmentEvent.enrollment_id == enrollment.id)
                .order_by(EnrollmentEvent.at, EnrollmentEvent.id)
            )
        ]
    return out


def _lead_ids(body: dict[str, Any]) -> list[int]:
    ids = body.get("lead_ids")
    if not isinstance(ids, list) or not ids or len(ids) > 10_000:
        raise BadRequest('send "lead_ids": a list of 1 to 10,000 lead ids')
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise BadRequest("lead_ids must be whole numbers")
    return ids


@bp.get("/sequences")
def sequences() -> dict[str, Any]:
    rows = db_session().scalars(scope().select(Sequence).order_by(Sequence.name))
    return {"sequences": [sequence_json(s) for s in rows]}


@bp.post("/sequences")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = json_object()
    made = service.create_sequence(
        scope(),
        member(),
        body.get("name", ""),
        body.get("steps"),
        utcnow(),
        body.get("settings") or {},
    )
    db_session().commit()
    return (
        sequence_json(made),
        201,
        {"Location": url_for("api.sequences.sequence", sequence_id=made.id)},
    )


@bp.get("/sequences/<int:sequence_id>")
def sequence(sequence_id: int) -> dict[str, Any]:
    return sequence_json(scope().get(Sequence, sequence_id))


@bp.patch("/sequences/<int:sequence_id>")
def update(sequence_id: int) -> dict[str, Any]:
    body = json_object()
    found = scope().get(Sequence, sequence_id)
    service.update_sequence(
        scope(),
        member(),
        found,
        utcnow(),
        name=body.get("name"),
        steps=body.get("steps"),
        settings=body.get("settings"),
    )
    db_session().commit()
    return sequence_json(found)


@bp.post("/sequences/<int:sequence_id>/pause")
def pause(sequence_id: int) -> dict[str, Any]:
    found = scope().get(Sequence, sequence_id)
    paused = service.pause(scope(), member(), found, utcnow())
    db_session().commit()
    return {**sequence_json(found), "enrollments_paused": paused}


@bp.post("/sequences/<int:sequence_id>/resume")
def resume(sequence_id: int) -> dict[str, Any]:
    found = scope().get(Sequence, sequence_id)
    resumed = service.resume(scope(), member(), found, utcnow())
    db_session().commit()
    return {**sequence_json(found), "enrollments_resumed": resumed}


@bp.get("/sequences/<int:sequence_id>/stats")
def results(sequence_id: int) -> dict[str, Any]:
    return stats.results(scope(), scope().get(Sequence, sequence_id))


@bp.post("/sequences/<int:sequence_id>/preview")
def preview(sequence_id: int) -> dict[str, Any]:
    found = scope().get(Sequence, sequence_id)
    verdicts = service.preview(scope(), found, _lead_ids(json_object()), utcnow())
    return {
        "leads": [
            {"lead_id": v.lead_id, "name": v.name, "enrolled": v.reason is None, "reason": v.reason}
            for v in verdicts
        ]
    }


@bp.post("/sequences/<int:sequence_id>/enroll")
def enroll(sequence_id: int) -> tuple[dict[str, Any], int]:
    found = scope().get(Sequence, sequence_id)
    who = member()
    done = service.enroll(
        scope(), found, _lead_ids(json_object()), utcnow(), by=who.name or who.email, member=who
    )
    db_session().commit()
    return {
        "enrolled": done.enrolled,
        "refused": [{"lead_id": v.lead_id, "reason": v.reason} for v in done.refused],
    }, 201 if done.enrolled else 200


@bp.post("/sequences/<int:sequence_id>/triggers")
def add_trigger(sequence_id: int) -> tuple[dict[str, Any], int]:
    require_manager(member(), Managed.sequences)
    found = scope().get(Sequence, sequence_id)
    body = json_object()
    try:
        kind = TriggerKind(str(body.get("kind")))
    except ValueError:
        raise Invalid("kind: one of " + ", ".join(k.value for k in TriggerKind)) from None
    trigger = service.add_trigger(scope(), found, kind, body, utcnow())
    db_session().commit()
    return {"id": trigger.id, "kind": trigger.kind.value, "describe": describe(trigger)}, 201


@bp.get("/sequences/<int:sequence_id>/enrollments")
def enrollments(sequence_id: int) -> dict[str, Any]:
    found = scope().get(Sequence, sequence_id)
    rows = db_session().scalars(
        select(Enrollment)
        .where(Enrollment.sequence_id == found.id)
        .order_by(Enrollment.id.desc())
        .limit(500)
    )
    return {"enrollments": [enrollment_json(e) for e in rows]}


@bp.get("/enrollments/<int:enrollment_id>")
def enrollment(enrollment_id: int) -> dict[str, Any]:
    return enrollment_json(scope().get(Enrollment, enrollment_id), history=True)


@bp.post("/enrollments/<int:enrollment_id>/unenroll")
def unenroll(enrollment_id: int) -> dict[str, Any]:
    found = scope().get(Enrollment, enrollment_id)
    service.unenroll(scope(), found, member(), utcnow())
    db_session().commit()
    return enrollment_json(found, history=True)


@bp.get("/tasks")
def tasks() -> dict[str, Any]:
    rows = db_session().scalars(
        scope()
        .select(Task, Task.member_id == member().id, Task.done_at.is_(None))
        .order_by(Task.created_at)
    )
    return {
        "tasks": [
            {
                "id": t.id,
                "lead_id": t.lead_id,
                "text": t.text,
                "created_at": t.created_at.isoformat(),
            }
            for t in rows
        ]
    }


@bp.post("/tasks/<int:task_id>/<any(done, skip):how>")
def finish(task_id: int, how: str) -> dict[str, Any]:
    task = service.finish_task(scope(), member(), task_id, utcnow(), skipped=how == "skip")
    db_session().commit()
    return {
        "id": task.id,
        "done_at": task.done_at.isoformat() if task.done_at else None,
        "skipped": task.skipped,
    }


@bp.get("/reengagement")
def reengagement() -> dict[str, Any]:
    policy = policy_of(scope(), utcnow())
    try:
        days = int(request.args.get("days", "90"))
    except ValueError:
        raise BadRequest("days must be a whole number") from None
    report = stats.reengagement_report(scope(), utcnow() - dt.timedelta(days=max(1, days)))
    db_session().commit()
    return {"enabled": policy.enabled, "sequence_id": policy.sequence_id, "report": report}


@bp.patch("/reengagement")
def change_reengagement() -> dict[str, Any]:
    require_manager(member(), Managed.sequences)
    body = json_object()
    policy = policy_of(scope(), utcnow())
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise BadRequest("enabled must be true or false")
        policy.enabled = body["enabled"]
    if "sequence_id" in body:
        policy.sequence_id = scope().get(Sequence, int(body["sequence_id"])).id
    db_session().commit()
    return {"enabled": policy.enabled, "sequence_id": policy.sequence_id}

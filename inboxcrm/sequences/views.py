"""The sequences' pages: the list with results and the member's tasks, a sequence with
its steps' results and enrollees, an enrollment's history; enrolling from the lead page
or a selection on the leads table (a preview first: who would be enrolled and who not,
and why), unenrolling, tasks done or skipped; the lead page's panel."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from inboxcrm.accounts.permissions import Managed, may_manage
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest, DomainError
from inboxcrm.leads.models import Lead
from inboxcrm.sequences import service, stats
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentEvent,
    Refusal,
    Sequence,
    SequenceState,
    Task,
)
from inboxcrm.sequences.triggers import policy_of
from inboxcrm.web import current_member, db_session, login_required, member, same_origin_path, scope

bp = Blueprint("sequences", __name__)
MAX_SELECTED = 1000


def _active() -> list[Sequence]:
    return list(
        db_session().scalars(
            scope().select(Sequence, Sequence.state == SequenceState.active).order_by(Sequence.name)
        )
    )


@bp.get("/sequences")
@login_required
def index() -> str:
    s = scope()
    policy = policy_of(s, utcnow())
    db_session().commit()
    rows = list(db_session().scalars(s.select(Sequence).order_by(Sequence.name)))
    results = {row.id: stats.results(s, row) for row in rows}
    tasks = (
        db_session()
        .scalars(
            s.select(Task, Task.member_id == member().id, Task.done_at.is_(None)).order_by(
                Task.created_at
            )
        )
        .all()
    )
    leads = {
        lead.id: lead
        for lead in db_session()
        .scalars(s.select(Lead, Lead.id.in_({t.lead_id for t in tasks if t.lead_id})))
        .unique()
    }
    report = stats.reengagement_report(s, utcnow() - dt.timedelta(days=90))
    return render_template(
        "sequences/index.html",
        sequences=rows,
        results=results,
        tasks=tasks,
        leads=leads,
        policy=policy,
        report=report,
        may_manage=may_manage(member(), Managed.sequences),
    )


@bp.get("/sequences/<int:sequence_id>")
@login_required
def show(sequence_id: int) -> str:
    s = scope()
    found = s.get(Sequence, sequence_id)
    enrollments = (
        db_session()
        .scalars(
            select(Enrollment)
            .where(Enrollment.sequence_id == found.id)
            .order_by(Enrollment.id.desc())
            .limit(200)
        )
        .all()
    )
    leads = {
        lead.id: lead
        for lead in db_session()
        .scalars(s.select(Lead, Lead.id.in_({e.lead_id for e in enrollments if e.lead_id})))
        .unique()
    }
    return render_template(
        "sequences/show.html",
        sequence=found,
        results=stats.results(s, found),
        enrollments=enrollments,
        leads=leads,
    )


@bp.get("/enrollments/<int:enrollment_id>")
@login_required
def enrollment(enrollment_id: int) -> str:
    s = scope()
    found = s.get(Enrollment, enrollment_id)
    events = (
        db_session()
        .scalars(
            select(EnrollmentEvent)
            .where(EnrollmentEvent.enrollment_id == found.id)
            .order_by(EnrollmentEvent.at, EnrollmentEvent.id)
        )
        .all()
    )
    sequence = s.get(Sequence, found.sequence_id)
    steps = {step.id: n for n, step in enumerate(sequence.steps, 1)}
    lead = s.find(Lead, found.lead_id) if found.lead_id else None
    return render_template(
        "sequences/enrollment.html",
        enrollment=found,
        events=events,
        sequence=sequence,
        steps=steps,
        lead=lead,
    )


def _selected() -> list[int]:
    try:
        ids = [int(v) for v in request.form.getlist("lead_ids")]
    except ValueError:
        raise BadRequest("lead ids are whole numbers") from None
    if not ids:
        raise BadRequest("select at least one lead")
    return ids[:MAX_SELECTED]


@bp.post("/sequences/enroll")
@login_required
def enroll_selected() -> str | Response:
    """A selection (the leads table, the lead page): the preview, then the enrollment."""
    ids = _selected()
    back = same_origin_path(request.form.get("next"), url_for("leads.index"))
    sequences = _active()
    chosen = request.form.get("sequence_id", type=int)
    sequence = next((q for q in sequences if q.id == chosen), None)
    if sequence is None or request.form.get("confirm") != "1":
        verdicts = service.preview(scope(), sequence, ids, utcnow()) if sequence else []
        return render_template(
            "sequences/preview.html",
            sequences=sequences,
            sequence=sequence,
            ids=ids,
            verdicts=verdicts,
            back=back,
        )
    who = member()
    try:
        done = service.enroll(
            scope(), sequence, ids, utcnow(), by=who.name or who.email, member=who
        )
    except DomainError as exc:
        flash(exc.message)
        return redirect(back)
    db_session().commit()
    flash(
        f"{len(done.enrolled)} enrolled in {sequence.name}"
        + (f"; {len(done.refused)} not" if done.refused else "")
        + "."
    )
    return redirect(back)


@bp.post("/enrollments/<int:enrollment_id>/unenroll")
@login_required
def unenroll(enrollment_id: int) -> Response:
    found = scope().get(Enrollment, enrollment_id)
    service.unenroll(scope(), found, member(), utcnow())
    db_session().commit()
    flash("Unenrolled: no more steps go to this lead.")
    return redirect(
        same_origin_path(
            request.form.get("next"), url_for("sequences.enrollment", enrollment_id=enrollment_id)
        )
    )


@bp.post("/tasks/<int:task_id>/<any(done, skip):how>")
@login_required
def finish_task(task_id: int, how: str) -> Response:
    service.finish_task(scope(), member(), task_id, utcnow(), skipped=how == "skip")
    db_session().commit()
    return redirect(same_origin_path(request.form.get("next"), url_for("sequences.index")))


def sequences_panel(lead: Lead) -> Markup | None:
    """The lead page's sequences: where it is (with the next step and a way out), what it
    went through and why it left, its open tasks, and enrolling it."""
    viewer = current_member()
    if viewer is None:
        return None
    s = scope()
    enrollments = (
        db_session()
        .scalars(
            s.select(Enrollment, Enrollment.lead_id == lead.id)
            .order_by(Enrollment.id.desc())
            .limit(20)
        )
        .all()
    )
    refusals = (
        db_session()
        .scalars(s.select(Refusal, Refusal.lead_id == lead.id).order_by(Refusal.since.desc()))
        .all()
    )
    shown = {e.sequence_id for e in enrollments} | {r.sequence_id for r in refusals}
    names = {q.id: q.name for q in db_session().scalars(s.select(Sequence, Sequence.id.in_(shown)))}
    tasks = (
        db_session().scalars(s.select(Task, Task.lead_id == lead.id, Task.done_at.is_(None))).all()
    )
    return Markup(  # noqa: S704 - a template's output, autoescaped by Jinja
        render_template(
            "sequences/_panel.html",
            lead=lead,
            enrollments=enrollments,
            refusals=refusals,
            names=names,
            tasks=tasks,
            sequences=_active(),
        )
    )

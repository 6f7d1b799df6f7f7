"""The lead page's forms: notes, and attaching, detaching or choosing the primary lead of
a thread. Each is all-or-nothing and goes back to the lead page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest, DomainError
from inboxcrm.leads.lead_page import lead_page
from inboxcrm.leads.links import attach, candidates, detach, make_primary, threads_by_gmail_id
from inboxcrm.leads.models import Lead
from inboxcrm.leads.notes import add_note, change_note, delete_note, may_change, note_of
from inboxcrm.mail.privacy import MailAccess
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("timeline", __name__)
bp.add_app_template_global(may_change, "may_change_note")


def _thread_ids() -> list[int]:
    try:
        return [int(i) for i in request.form.getlist("thread_ids")]
    except ValueError:
        raise BadRequest("thread ids are whole numbers") from None


def _to_lead(lead: Lead) -> Response:
    return redirect(url_for("leads.show", lead_id=lead.id))


@bp.post("/leads/<int:lead_id>/notes")
@login_required
def note(lead_id: int) -> Response | tuple[str, int]:
    s = scope()
    lead = s.get(Lead, lead_id)
    text = request.form.get("body", "")
    try:
        add_note(s, lead, member(), text, utcnow())
    except DomainError as exc:
        # Shown again with what was typed: a note that failed is not a note lost.
        db_session().rollback()
        context = lead_page(s, member(), lead, None)
        return render_template(
            "leads/show.html", note_text=text, note_error=exc.message, **context
        ), exc.status
    db_session().commit()
    flash("Note added.")
    return redirect(url_for("leads.show", lead_id=lead.id, _anchor="notes"))


@bp.post("/leads/<int:lead_id>/notes/<int:note_id>")
@login_required
def edit_note(lead_id: int, note_id: int) -> Response | tuple[str, int]:
    s = scope()
    lead = s.get(Lead, lead_id)
    found = note_of(s, lead, note_id, member())
    text = request.form.get("body", "")
    try:
        change_note(found, text, utcnow())
    except DomainError as exc:
        db_session().rollback()
        context = lead_page(s, member(), lead, None)
        return render_template(
            "leads/show.html", editing_note=note_id, edit_text=text, edit_error=exc.message,
            **context,
        ), exc.status  # fmt: skip
    db_session().commit()
    flash("Note saved.")
    return redirect(url_for("leads.show", lead_id=lead.id, _anchor=f"note-{note_id}"))


@bp.post("/leads/<int:lead_id>/notes/<int:note_id>/delete")
@login_required
def remove_note(lead_id: int, note_id: int) -> Response:
    s = scope()
    lead = s.get(Lead, lead_id)
    delete_note(s, note_of(s, lead, note_id, member()))
    db_session().commit()
    flash("Note deleted.")
    return redirect(url_for("leads.show", lead_id=lead.id, _anchor="notes"))


@bp.get("/leads/<int:lead_id>/threads/attach")
@login_required
def attach_form(lead_id: int) -> str:
    s = scope()
    lead = s.get(Lead, lead_id)
    access = MailAccess.of(s.session, member())
    return render_template(
        "leads/attach.html", lead=lead, threads=candidates(s, access, lead), tz=member().timezone
    )


@bp.post("/leads/<int:lead_id>/threads/attach")
@login_required
def attach_threads(lead_id: int) -> Response | tuple[str, int]:
    s = scope()
    lead = s.get(Lead, lead_id)
    access = MailAccess.of(s.session, member())
    pasted = request.form.get("gmail", "").strip()
    try:
        ids = threads_by_gmail_id(s, access, pasted) if pasted else _thread_ids()
        count = attach(s, access, lead, ids)
    except DomainError as exc:
        db_session().rollback()
        html = render_template(
            "leads/attach.html",
            lead=lead,
            threads=candidates(s, access, lead),
            tz=member().timezone,
            gmail=pasted,
            error=exc.message,
        )
        return html, exc.status
    db_session().commit()
    flash("Thread attached." if count else "That thread was already on this lead's timeline.")
    return _to_lead(lead)


@bp.post("/leads/<int:lead_id>/threads/detach")
@login_required
def detach_threads(lead_id: int) -> Response:
    s = scope()
    lead = s.get(Lead, lead_id)
    detach(s, MailAccess.of(s.session, member()), lead, _thread_ids())
    db_session().commit()
    flash("Thread detached: it no longer shows here, and sync will not attach it again.")
    return _to_lead(lead)


@bp.post("/leads/<int:lead_id>/threads/primary")
@login_required
def primary(lead_id: int) -> Response:
    s = scope()
    lead = s.get(Lead, lead_id)
    make_primary(s, MailAccess.of(s.session, member()), lead, _thread_ids())
    db_session().commit()
    flash(f"{lead.name or lead.email} is now the thread's primary lead.")
    return _to_lead(lead)

"""The leads table, creating a lead by hand, changing many leads at once, the lead card."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Member, Role
from inboxcrm.accounts.permissions import Managed, may, may_at_all, may_manage
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Forbidden, Invalid
from inboxcrm.leads.capture.backfill import link_existing_mail
from inboxcrm.leads.junk import not_a_lead, parse_block
from inboxcrm.leads.lead_page import contact_card, lead_page
from inboxcrm.leads.merge import lead_to_merge, merge_leads
from inboxcrm.leads.models import Lead, Tag, Temperature
from inboxcrm.leads.params import parse_filter
from inboxcrm.leads.schemas import LABELS, LeadCreate, LeadUpdate, field_messages
from inboxcrm.leads.service import (
    HIGHEST_FIRST,
    SORTS,
    AddressTaken,
    BulkChange,
    bulk_update,
    create_lead,
    list_leads,
    update_lead,
)
from inboxcrm.leads.timeline import Cursor
from inboxcrm.stages.service import list_stages
from inboxcrm.web import db_session, login_required, member, same_origin_path, scope

bp = Blueprint("leads", __name__)
# Pages offer what the viewer may do: `may(me, 'merge', lead.owner_id)` in a template.
bp.add_app_template_global(may, "may")
bp.add_app_template_global(may_at_all, "may_at_all")


def _choices() -> dict[str, Any]:
    s = scope()
    return {
        "stages": list_stages(s),
        "members": list(
            s.session.scalars(
                s.select(Member, Member.removed_at.is_(None)).order_by(Member.name, Member.email)
            )
        ),
        "tags": list(s.session.scalars(s.select(Tag).order_by(Tag.name))),
        "temperatures": list(Temperature),
    }


@bp.get("/")
@login_required
def home() -> Response:
    return redirect(url_for("leads.index"))


@bp.get("/leads")
@login_required
def index() -> str:
    me = member()
    # Reps open their own leads first, as in any CRM they work from; others see the team's.
    owner_default = "me" if me.role is Role.rep else "any"
    flt = parse_filter(request.args, me, owner_default=owner_default)
    page = list_leads(scope(), flt, last_if_past_end=True)
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    args.setdefault("owner", owner_default)
    workspace_empty = page.total == 0 and not scope().session.scalar(
        scope().select(Lead).with_only_columns(Lead.id).limit(1)
    )
    return render_template(
        "leads/index.html",
        page=page,
        args=args,
        sorts=list(SORTS),
        highest_first=HIGHEST_FIRST,
        workspace_empty=workspace_empty,
        may_manage_segments=may_manage(me, Managed.segments),
        **_choices(),
    )


def _form_to_lead(form: MultiDict[str, str]) -> dict[str, Any]:
    """Form fields to API-shaped data: blanks are left out, lists are split."""
    data: dict[str, Any] = {
        k: v.strip() for k, v in form.items() if k not in ("csrf_token",) and v.strip()
    }
    if "tags" in data:
        data["tags"] = [t for t in (p.strip() for p in data["tags"].split(",")) if t]
    if "other_emails" in data:
        data["other_emails"] = data["other_emails"].replace(",", " ").split()
    return data


@bp.route("/leads/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    errors: dict[str, str] = {}
    taken: AddressTaken | None = None
    if request.method == "POST":
        try:
            created = create_lead(
                scope(), LeadCreate.model_validate(_form_to_lead(request.form)), member(), utcnow()
            )
            link_existing_mail(db_session(), created.workspace_id, [created.id], utcnow())
            db_session().commit()
        except ValidationError as exc:
            errors = field_messages(exc)
        except AddressTaken as exc:
            db_session().rollback()
            errors = {"email": f"{exc.email} already belongs to {exc.lead_name}"}
            taken = exc
        except DomainError as exc:
            db_session().rollback()
            errors = exc.fields or {"form": exc.message}
            errors.setdefault("form", exc.message)
        else:
            flash(f"Lead {created.name or created.email} created.")
            return redirect(url_for("leads.show", lead_id=created.id))
    # Re-show what was typed: bad input loses nothing.
    html = render_template(
        "leads/new.html", errors=errors, form=request.form, taken=taken, **_choices()
    )
    return (html, 422) if errors else html


@bp.post("/leads/bulk")
@login_required
def bulk() -> Response:
    form = request.form
    back = same_origin_path(form.get("next"), url_for("leads.index"))
    if not back.startswith("/leads"):
        back = url_for("leads.index")
    try:
        ids = [int(i) for i in form.getlist("lead_ids")]
        if form.get("action") == "not_a_lead":
            junked = not_a_lead(scope(), ids, member(), parse_block(form.get("block")), utcnow())
            db_session().commit()
            flash(junked.summary())
            return redirect(back)
        owner = form.get("owner", "")
        stage = form.get("stage", "")
        change = BulkChange(
            owner_id=int(owner) if owner.isdigit() else None,
            unassign=owner == "none",
            stage_id=int(stage) if stage.isdigit() else None,
            add_tag=form.get("add_tag", "").strip() or None,
            remove_tag=form.get("remove_tag", "").strip() or None,
        )
        count = bulk_update(scope(), ids, change, member(), utcnow())
        db_session().commit()
    except ValidationError as exc:  # a ValueError too: first
        db_session().rollback()
        flash(f"Nothing was changed: {exc.errors()[0]['msg']}", "error")
    except ValueError:
        flash("That selection could not be read; nothing was changed.", "error")
    except DomainError as exc:
        db_session().rollback()
        flash(f"Nothing was changed: {exc.message}", "error")
    else:
        flash(f"Updated {count} lead{'s' if count != 1 else ''}.")
    return redirect(back)


@bp.get("/leads/<int:lead_id>")
@login_required
def show(lead_id: int) -> str:
    s = scope()
    lead = s.get(Lead, lead_id)
    older = Cursor.parse(request.args.get("older"))
    return render_template("leads/show.html", **lead_page(s, member(), lead, older))


@bp.post("/leads/<int:lead_id>/merge")
@login_required
def merge(lead_id: int) -> Response | str:
    """Merge the lead named in the form (address, id or page URL) into this one, once the
    preview has been confirmed."""
    s = scope()
    keep = s.get(Lead, lead_id)
    try:
        other = lead_to_merge(s, request.form.get("other_lead_id", ""))
        other_id, other_label = other.id, f"{other.name or other.email} <{other.email}>"
        merged = merge_leads(s, keep, other, member(), utcnow())
        if request.form.get("confirmed") != "1":
            # Shown first: the merge done and undone, so the counts are the real ones.
            summary = merged.summary()
            keep_name = keep.name or keep.email
            db_session().rollback()
            return render_template(
                "leads/confirm.html",
                title=f"Merge {other_label} into {keep_name}?",
                lines=[
                    summary.replace("Merged", "Merging", 1).rstrip(".") + " would move here.",
                    f"{other_label} is then removed; {keep_name} keeps its address, stage "
                    "and owner, and its empty fields take the other lead's values.",
                ],
                names=[],
                action=url_for("leads.merge", lead_id=lead_id),
                fields={"other_lead_id": str(other_id)},
                button=f"Merge into {keep_name}",
                back=url_for("leads.show", lead_id=lead_id),
            )
        db_session().commit()
    except Forbidden:
        raise  # the error page: a marketer is never offered the form
    except DomainError as exc:
        db_session().rollback()
        flash(f"Nothing was merged: {exc.message}", "error")
    else:
        flash(merged.summary())
    return redirect(url_for("leads.show", lead_id=lead_id))


# What the contact card's forms may send: every field of a lead but where it came from.
EDITABLE = frozenset(LeadUpdate.model_fields) - {"source"}


def _form_to_changes(form: MultiDict[str, str]) -> dict[str, Any]:
    """An edit form's fields, as sent: a blank clears the field (but the address)."""
    data: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        if key not in EDITABLE:
            raise Invalid(f"{key}: not a field of a lead", {key: "not a field of a lead"})
        value = (form.get(key) or "").strip()
        if key == "tags":
            data[key] = [t.strip() for t in value.split(",") if t.strip()]
        elif key == "other_emails":
            data[key] = value.replace(",", " ").split()
        elif key in ("owner_id", "stage_id"):
            if value and not value.isdigit():
                raise Invalid(f"{LABELS[key]}: choose one from the list", {key: "choose one"})
            data[key] = int(value) if value else None
        elif key == "email":
            if not value:
                raise Invalid("Email: an address such as ann@acme.com", {key: "required"})
            data[key] = value
        else:
            data[key] = value or None
    return data


@bp.post("/leads/<int:lead_id>/edit")
@login_required
def edit(lead_id: int) -> Response | tuple[dict[str, Any], int] | dict[str, Any]:
    """A field (or a few) of the contact card, changed in place: JSON with the card's new
    HTML for app.js, or back to the lead page for a plain form."""
    s = scope()
    lead = s.get(Lead, lead_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    problem: dict[str, Any] | None = None
    try:
        changes = LeadUpdate.model_validate(_form_to_changes(request.form))
        update_lead(s, lead, changes, member(), utcnow())
        db_session().commit()
    except ValidationError as exc:
        db_session().rollback()
        fields = field_messages(exc)
        problem = {"status": 422, "message": " ".join(fields.values()), "fields": fields}
    except DomainError as exc:
        db_session().rollback()
        problem = {"status": exc.status, "message": exc.message, "fields": exc.fields}
        if isinstance(exc, AddressTaken):
            problem["message"] = f"{exc.email} already belongs to {exc.lead_name}."
            problem["link"] = {
                "href": url_for("leads.show", lead_id=exc.lead_id),
                "text": f"Open {exc.lead_name}",
            }
    if problem is not None:
        if wants_json:
            return {"error": problem}, int(problem["status"])
        flash(f"Nothing was saved: {problem['message']}", "error")
        return redirect(url_for("leads.show", lead_id=lead_id))
    if wants_json:
        s.session.refresh(lead)
        return {"html": render_template("leads/_contact.html", **contact_card(s, lead))}
    flash("Saved.")
    return redirect(url_for("leads.show", lead_id=lead_id))

"""Pages for leads from mail: "Not a lead" on one lead, and the lead capture settings
(policy, lead inboxes, blocklist) that admins change and everyone else can read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import LeadPolicy, Workspace
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Invalid
from inboxcrm.leads.blocklist import display_pattern, list_blocks
from inboxcrm.leads.capture.policy import change_settings, parse_lead_inboxes
from inboxcrm.leads.junk import Block, Junked, block, not_a_lead, parse_block, unblock
from inboxcrm.leads.models import Lead
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("capture", __name__)

POLICIES = (
    (
        LeadPolicy.conversations.value,
        "People we talk to",
        "Everyone the team writes to or replies to, and anyone writing to a lead inbox.",
    ),
    (LeadPolicy.all_mail.value, "All external mail", "Every outside sender and recipient."),
    (
        LeadPolicy.match_only.value,
        "Existing leads only",
        "Mail is linked to leads you already have; no new leads are made from it.",
    ),
)


@bp.post("/leads/<int:lead_id>/not-a-lead", endpoint="not_a_lead")
@login_required
def not_a_lead_page(lead_id: int) -> Response | str:
    """Remove the lead; blocking its whole domain is shown first (the leads the block
    removes, by name) and done once confirmed."""
    try:
        choice = parse_block(request.form.get("block"))
        lead = scope().get(Lead, lead_id)
        name = lead.name or lead.email
        junked = not_a_lead(scope(), [lead_id], member(), choice, utcnow())
        if choice is Block.domain and request.form.get("confirmed") != "1":
            return _preview(lead_id, name, junked)
    except DomainError as exc:
        db_session().rollback()
        if exc.status == 404:
            raise
        flash(f"Nothing was removed: {exc.message}", "error")
        return redirect(url_for("leads.show", lead_id=lead_id))
    db_session().commit()
    flash(junked.summary())
    return redirect(url_for("leads.index"))


def _preview(lead_id: int, name: str, junked: Junked) -> str:
    """What blocking the domain does, worked out by doing it; then undone until confirmed."""
    blocked = ", ".join(display_pattern(p) for p in junked.blocked) or "nothing new"
    others = [n for n in junked.removed_names if n != name]
    lines = [
        f"{name} is removed (the mail stays), and {blocked} is blocked: "
        "no one there becomes a lead again."
    ]
    if others:
        n = len(others)
        lines.append(
            f"The block also removes {n} other lead{'' if n == 1 else 's'} no one has worked on:"
        )
    else:
        lines.append("The block removes no other lead.")
    kept = [lead.name or lead.email for lead in junked.kept]
    if kept:
        more = " and more" if len(kept) > 10 else ""
        lines.append(f"Kept, because reps have worked on them: {', '.join(kept[:10])}{more}.")
    db_session().rollback()
    return render_template(
        "leads/confirm.html",
        title=f"Not a lead: block {blocked}?",
        lines=lines,
        names=others,
        action=url_for("capture.not_a_lead", lead_id=lead_id),
        fields={"block": Block.domain.value},
        button=f"Remove {name} and block {blocked}",
        back=url_for("leads.show", lead_id=lead_id),
    )


def _page(status: int = 200, **context: Any) -> tuple[str, int]:
    workspace = db_session().get_one(Workspace, member().workspace_id)
    blocks = [{"row": b, "display": display_pattern(b.pattern)} for b in list_blocks(scope())]
    context.setdefault("policy", workspace.lead_policy.value)
    context.setdefault("inboxes", "\n".join(workspace.lead_inboxes or []))
    context.setdefault("errors", {})
    context.setdefault("pattern", "")
    context["applying"] = workspace.recapture_from is not None
    context["applied_leads"] = workspace.recapture_created
    html = render_template("leads/settings.html", policies=POLICIES, blocks=blocks, **context)
    return html, status


@bp.get("/settings/leads")
@login_required
def settings() -> tuple[str, int]:
    return _page()


@bp.post("/settings/leads")
@login_required
def save_settings() -> Response | tuple[str, int]:
    form = request.form
    try:
        raw_policy = form.get("lead_policy", "")
        if raw_policy not in LeadPolicy.__members__:
            raise Invalid("choose who becomes a lead", {"lead_policy": "unknown policy"})
        inboxes = parse_lead_inboxes(form.get("lead_inboxes", ""))
        changed = change_settings(db_session(), member(), LeadPolicy(raw_policy), inboxes)
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        if exc.status == 403:
            raise
        # Show the form again with what was typed: bad input loses nothing.
        return _page(
            422,
            policy=form.get("lead_policy", ""),
            inboxes=form.get("lead_inboxes", ""),
            errors=exc.fields or {"lead_policy": exc.message},
        )
    if changed:
        flash("Saved. The new rules are being applied to the mail already synced.")
    else:
        flash("Nothing changed.")
    return redirect(url_for("capture.settings"))


@bp.post("/settings/leads/blocklist")
@login_required
def add_block() -> Response | tuple[str, int]:
    raw = request.form.get("pattern", "")
    try:
        row, junked = block(scope(), raw, member(), utcnow())
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        if exc.status == 403:
            raise
        return _page(422, pattern=raw, errors=exc.fields or {"pattern": exc.message})
    shown = display_pattern(row.pattern)
    if not junked.blocked:
        flash(f"{shown} was already blocked.")
    else:
        n = len(junked.removed)
        message = f"Blocked {shown}: removed {n} lead{'s' if n != 1 else ''} no one had worked on."
        if junked.kept:
            message += f" Kept {', '.join(lead.name or lead.email for lead in junked.kept[:5])}"
            message += f"{' and more' if len(junked.kept) > 5 else ''}: reps have worked on them."
        flash(message)
    return redirect(url_for("capture.settings"))


@bp.post("/settings/leads/blocklist/<int:block_id>/delete")
@login_required
def remove_block(block_id: int) -> Response:
    unblock(scope(), block_id, member())
    db_session().commit()
    flash("Removed from the blocklist. Leads removed before stay removed.")
    return redirect(url_for("capture.settings"))

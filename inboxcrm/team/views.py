"""/team: admins see and change the team; everyone else may look."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Member, Role, Workspace
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Invalid
from inboxcrm.team.roster import open_invites, roster
from inboxcrm.team.service import (
    ROLE_WORDS,
    cancel_invite,
    change_role,
    invite_member,
    member_of,
    parse_role,
    remove_member,
    set_joining,
)
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("team", __name__)


def _page(status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("typed", {})
    html = render_template(
        "team/index.html",
        team=roster(scope()),
        invites=open_invites(scope()),
        workspace=db_session().get_one(Workspace, member().workspace_id),
        roles=ROLE_WORDS,
        **context,
    )
    return html, status


@bp.get("/team")
@login_required
def index() -> tuple[str, int]:
    return _page()


def _refused(exc: DomainError, **context: Any) -> tuple[str, int]:
    db_session().rollback()
    if exc.status in (403, 404):
        raise exc
    return _page(422, problem=exc.message, errors=exc.fields, **context)


@bp.post("/team/invites")
@login_required
def invite() -> Response | tuple[str, int]:
    form = request.form
    try:
        found = invite_member(
            scope(), member(), form.get("email", ""), parse_role(form.get("role"))
        )
        db_session().commit()
    except DomainError as exc:
        return _refused(exc, typed={"email": form.get("email", ""), "role": form.get("role")})
    flash(
        f"Invited {found.email} as {found.role.value}: they join when they sign in with Google "
        "at this site's address."
    )
    return redirect(url_for("team.index"))


@bp.post("/team/invites/<int:invite_id>/cancel")
@login_required
def cancel(invite_id: int) -> Response:
    found = cancel_invite(scope(), member(), invite_id)
    db_session().commit()
    flash(f"The invitation to {found.email} is cancelled.")
    return redirect(url_for("team.index"))


@bp.post("/team/members/<int:member_id>/role")
@login_required
def role(member_id: int) -> Response | tuple[str, int]:
    target = member_of(scope(), member_id)
    try:
        new = parse_role(request.form.get("role"))
        changed = change_role(scope(), member(), target, new)
        db_session().commit()
    except DomainError as exc:
        return _refused(exc)
    who = target.name or target.email
    flash(
        f"{who} is now {'an' if new is Role.admin else 'a'} {new.value}."
        if changed
        else "Nothing changed."
    )
    return redirect(url_for("team.index"))


@bp.post("/team/joining")
@login_required
def joining() -> Response:
    on = request.form.get("joining") == "on"
    workspace = set_joining(scope(), member(), on)
    db_session().commit()
    if on:
        flash(f"People who sign in with an address at {workspace.domain} now join as reps.")
    else:
        flash("New people now join by invitation only.")
    return redirect(url_for("team.index"))


@bp.get("/team/members/<int:member_id>/remove")
@login_required
def confirm_remove(member_id: int) -> tuple[str, int]:
    """Who takes the leads, asked before anything happens."""
    target = member_of(scope(), member_id)
    row = next(r for r in roster(scope()) if r.member.id == target.id)
    return _page(removing=row)


@bp.post("/team/members/<int:member_id>/remove")
@login_required
def remove(member_id: int) -> Response | tuple[str, int]:
    target = member_of(scope(), member_id)
    raw = (request.form.get("heir_id") or "").strip()
    try:
        heir = scope().find(Member, int(raw)) if raw.isdigit() else None
        if raw and heir is None:
            raise Invalid(
                "Leads go to: choose someone staying on the team, or no one",
                {"heir_id": "someone staying on the team"},
            )
        done = remove_member(scope(), member(), target, heir, utcnow())
        summary = done.summary()
        db_session().commit()
    except DomainError as exc:
        row = next(r for r in roster(scope()) if r.member.id == member_id)
        return _refused(exc, removing=row)
    flash(summary)
    return redirect(url_for("team.index"))

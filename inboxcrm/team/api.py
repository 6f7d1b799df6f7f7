"""/api/v1/team: the members, invitations and joining; admins change them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from inboxcrm.accounts.models import Invite, Member, Workspace
from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import Invalid
from inboxcrm.team.roster import TeamMember, open_invites, roster
from inboxcrm.team.service import (
    cancel_invite,
    change_role,
    invite_member,
    member_of,
    parse_role,
    remove_member,
    set_joining,
)
from inboxcrm.web import db_session, member, scope

bp = Blueprint("team", __name__)  # under /api/v1


def member_json(row: TeamMember) -> dict[str, Any]:
    m = row.member
    return {
        "id": m.id,
        "email": m.email,
        "name": m.name,
        "role": m.role.value,
        "timezone": m.timezone,
        "gmail": row.gmail.value,
        "mailboxes": [
            {"email": b.email, "status": b.status.value, "sync_state": b.sync_state.value}
            for b in row.mailboxes
        ],
        "last_active_at": row.last_active_at.isoformat() if row.last_active_at else None,
        "leads": row.leads,
    }


def invite_json(i: Invite) -> dict[str, Any]:
    return {
        "id": i.id,
        "email": i.email,
        "role": i.role.value,
        "created_at": i.created_at.isoformat(),
    }


def _only(body: dict[str, Any], *names: str) -> None:
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise Invalid("unknown fields", {name: "unknown field" for name in unknown})


@bp.get("/team")
def index() -> dict[str, Any]:
    workspace = db_session().get_one(Workspace, member().workspace_id)
    return {
        "members": [member_json(r) for r in roster(scope())],
        "invites": [invite_json(i) for i in open_invites(scope())],
        "domain": workspace.domain,
        "joining": workspace.allow_join,
    }


def _row(found: Member) -> dict[str, Any]:
    return member_json(next(r for r in roster(scope()) if r.member.id == found.id))


@bp.post("/team/invites")
def invite() -> tuple[dict[str, Any], int]:
    body = json_object()
    _only(body, "email", "role")
    email = body.get("email")
    if not isinstance(email, str):
        raise Invalid("Email: an address such as ann@acme.com", {"email": "required"})
    found = invite_member(scope(), member(), email, parse_role(body.get("role") or "rep"))
    db_session().commit()
    return invite_json(found), 201


@bp.delete("/team/invites/<int:invite_id>")
def cancel(invite_id: int) -> tuple[str, int]:
    cancel_invite(scope(), member(), invite_id)
    db_session().commit()
    return "", 204


@bp.patch("/team/members/<int:member_id>")
def change(member_id: int) -> dict[str, Any]:
    body = json_object()
    _only(body, "role")
    target = member_of(scope(), member_id)
    raw = body.get("role")
    change_role(scope(), member(), target, parse_role(raw if isinstance(raw, str) else None))
    db_session().commit()
    return _row(target)


@bp.post("/team/members/<int:member_id>/remove")
def remove(member_id: int) -> dict[str, Any]:
    """`{"heir_id": N}` takes the member's leads; `null` leaves them unowned."""
    body = json_object()
    _only(body, "heir_id")
    if "heir_id" not in body:
        raise Invalid(
            "say who takes their leads: heir_id, or null for no one", {"heir_id": "required"}
        )
    raw = body["heir_id"]
    if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool)):
        raise Invalid("heir_id: a member id, or null", {"heir_id": "a member id, or null"})
    target = member_of(scope(), member_id)
    heir = scope().find(Member, raw) if raw is not None else None
    if raw is not None and heir is None:
        raise Invalid("heir_id: no such member", {"heir_id": "no such member"})
    done = remove_member(scope(), member(), target, heir, utcnow())
    result = {
        "removed": done.member.id,
        "heir_id": done.heir.id if done.heir else None,
        "leads": done.leads,
    }
    db_session().commit()
    return result


@bp.patch("/team/settings")
def settings() -> dict[str, Any]:
    body = json_object()
    _only(body, "joining")
    if not isinstance(body.get("joining"), bool):
        raise Invalid("joining: true or false", {"joining": "true or false"})
    workspace = set_joining(scope(), member(), body["joining"])
    db_session().commit()
    return {"domain": workspace.domain, "joining": workspace.allow_join}

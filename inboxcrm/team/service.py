"""What admins do to the team: invite, change a role, turn joining by domain on or off,
remove a member and hand their leads to someone. `actor` None is the command line, which
runs with the server's own rights; anyone else must be an admin. Services flush, the
caller commits."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from inboxcrm.accounts.models import (
    ApiToken,
    Invite,
    LoginSession,
    Mailbox,
    Member,
    Role,
    Workspace,
)
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.accounts.service import disconnect_mailbox, invite
from inboxcrm.addresses import normalize_email
from inboxcrm.errors import Invalid, NotFound
from inboxcrm.leads.models import Lead
from inboxcrm.tenancy import Scope

ROLE_WORDS = {
    Role.admin: "Admin: everything, the team and the settings included",
    Role.rep: "Rep: works their own leads and unowned ones",
    Role.marketer: "Marketer: reads everything, edits details, no owner, stage or deal",
}


def _admin(actor: Member | None, action: str) -> None:
    if actor is not None:
        require_admin(actor, action)


def parse_role(raw: str | None) -> Role:
    value = (raw or "").strip().lower()
    if value not in Role.__members__:
        raise Invalid(
            "Role: choose admin, rep or marketer", {"role": "choose admin, rep or marketer"}
        )
    return Role(value)


def member_of(scope: Scope, member_id: int) -> Member:
    """A member of this workspace still on the team; NotFound otherwise."""
    found = scope.find(Member, member_id)
    if found is None or not found.active:
        raise NotFound(f"member {member_id} not found")
    return found


def invite_member(scope: Scope, actor: Member | None, email: str, role: Role) -> Invite:
    """Signing in with Google as `email` then joins this workspace with `role`."""
    _admin(actor, "invite people")
    try:
        address = normalize_email(email)
    except Invalid:
        raise Invalid(
            "Email: an address such as ann@acme.com", {"email": "an address such as ann@acme.com"}
        ) from None
    workspace = scope.session.get_one(Workspace, scope.workspace_id)
    return invite(scope.session, workspace, address, role, actor)


def cancel_invite(scope: Scope, actor: Member | None, invite_id: int) -> Invite:
    _admin(actor, "cancel invitations")
    found = scope.find(Invite, invite_id)
    if found is None or found.accepted_at is not None:
        raise NotFound(f"invitation {invite_id} not found")
    scope.session.delete(found)
    scope.session.flush()
    return found


def _admins(scope: Scope) -> int:
    return (
        scope.session.scalar(
            select(func.count()).where(
                Member.workspace_id == scope.workspace_id,
                Member.role == Role.admin,
                Member.removed_at.is_(None),
            )
        )
        or 0
    )


def _name(member: Member) -> str:
    return member.name or member.email


def change_role(scope: Scope, actor: Member | None, target: Member, role: Role) -> bool:
    """True if the role changed. A workspace always keeps an admin."""
    _admin(actor, "change roles")
    if target.role is role:
        return False
    if target.role is Role.admin and _admins(scope) <= 1:
        raise Invalid(
            f"{_name(target)} is the only admin: make someone else an admin first",
            {"role": "the workspace needs an admin"},
        )
    target.role = role
    scope.session.flush()
    return True


def set_joining(scope: Scope, actor: Member | None, on: bool) -> Workspace:
    """Whether people who sign in with an address at the workspace's domain join as reps
    (on) or need an invitation (off)."""
    _admin(actor, "change who may join")
    workspace = scope.session.get_one(Workspace, scope.workspace_id)
    workspace.allow_join = on
    scope.session.flush()
    return workspace


@dataclass(frozen=True)
class Removed:
    member: Member
    heir: Member | None
    leads: int  # handed to the heir (or to no one)

    def summary(self) -> str:
        n = self.leads
        leads = f"{n:,} lead{'' if n == 1 else 's'}"
        to = f"now {_name(self.heir)}'s" if self.heir else "now unowned"
        verb = "is" if n == 1 else "are"
        return f"Removed {_name(self.member)} from the team; their {leads} {verb} {to}."


def remove_member(
    scope: Scope, actor: Member | None, gone: Member, heir: Member | None, now: dt.datetime
) -> Removed:
    """Take `gone` off the team: their leads go to `heir` (None: unowned), their sessions
    end, their API tokens stop working and their Gmail is disconnected (what it synced
    stays, shared as before). The row stays, so their notes and moves keep a name."""
    _admin(actor, "remove members")
    if actor is not None and gone.id == actor.id:
        raise Invalid("You cannot remove yourself: another admin can.")
    if gone.role is Role.admin and _admins(scope) <= 1:
        raise Invalid(f"{_name(gone)} is the only admin: make someone else an admin first")
    if heir is not None and (heir.id == gone.id or not heir.active):
        raise Invalid(
            "Leads go to: choose someone staying on the team, or no one",
            {"heir_id": "someone staying on the team"},
        )
    session = scope.session
    result = session.execute(
        update(Lead)
        .where(Lead.workspace_id == scope.workspace_id, Lead.owner_id == gone.id)
        .values(owner_id=heir.id if heir else None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    handed = int(getattr(result, "rowcount", 0) or 0)
    session.execute(delete(LoginSession).where(LoginSession.member_id == gone.id))
    session.execute(
        update(ApiToken)
        .where(ApiToken.member_id == gone.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    for box in session.scalars(select(Mailbox).where(Mailbox.member_id == gone.id)):
        disconnect_mailbox(box)
    gone.removed_at = now
    gone.login_nonce = secrets.token_urlsafe(16)  # links made before stop working
    session.flush()
    session.expire_all()  # the leads changed behind the identity map's back
    return Removed(gone, heir, handed)

"""The team as its page and the API show it: each member with their role, their Gmail's
state, when they were last active and how many leads they own; and the open invitations."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import func, select

from inboxcrm.accounts.models import (
    ApiToken,
    Invite,
    LoginSession,
    Mailbox,
    MailboxStatus,
    Member,
    SyncState,
)
from inboxcrm.leads.models import Lead
from inboxcrm.tenancy import Scope


class GmailState(enum.StrEnum):
    connected = "connected"
    syncing = "syncing"
    needs_reconnect = "needs reconnecting"
    disconnected = "disconnected"
    none = "not connected"  # never connected a mailbox


def gmail_state(mailboxes: list[Mailbox]) -> GmailState:
    """One word for a member's Gmail: the one that needs them most, if they have several."""
    if not mailboxes:
        return GmailState.none
    states = set()
    for box in mailboxes:
        if box.status is MailboxStatus.needs_reconnect:
            states.add(GmailState.needs_reconnect)
        elif box.status is MailboxStatus.disconnected:
            states.add(GmailState.disconnected)
        elif box.sync_state in (SyncState.queued, SyncState.syncing):
            states.add(GmailState.syncing)
        else:
            states.add(GmailState.connected)
    for state in (GmailState.needs_reconnect, GmailState.syncing, GmailState.connected):
        if state in states:
            return state
    return GmailState.disconnected


@dataclass(frozen=True)
class TeamMember:
    member: Member
    mailboxes: list[Mailbox]
    gmail: GmailState
    last_active_at: dt.datetime | None  # a page seen or an API call, whichever is later
    leads: int  # owned


def roster(scope: Scope) -> list[TeamMember]:
    """The workspace's members (not the removed ones), admins first, then by name: four
    queries, however large the team."""
    session = scope.session
    members = list(
        session.scalars(
            scope.select(Member, Member.removed_at.is_(None)).order_by(Member.name, Member.email)
        )
    )
    boxes: dict[int, list[Mailbox]] = {}
    for box in session.scalars(scope.select(Mailbox).order_by(Mailbox.id)):
        boxes.setdefault(box.member_id, []).append(box)
    seen: dict[int, dt.datetime] = {}
    for model, column in (
        (LoginSession, LoginSession.last_seen_at),
        (ApiToken, ApiToken.last_used_at),
    ):
        latest = session.execute(
            select(model.member_id, func.max(column))
            .where(model.workspace_id == scope.workspace_id)
            .group_by(model.member_id)
        )
        for member_id, when in latest:
            if when is not None and (member_id not in seen or when > seen[member_id]):
                seen[member_id] = when
    owned = {
        owner: count
        for owner, count in session.execute(
            select(Lead.owner_id, func.count())
            .where(Lead.workspace_id == scope.workspace_id, Lead.owner_id.is_not(None))
            .group_by(Lead.owner_id)
        )
    }
    rows = [
        TeamMember(
            member=m,
            mailboxes=boxes.get(m.id, []),
            gmail=gmail_state(boxes.get(m.id, [])),
            last_active_at=seen.get(m.id),
            leads=owned.get(m.id, 0),
        )
        for m in members
    ]
    return sorted(rows, key=lambda r: r.member.role.value != "admin")


def open_invites(scope: Scope) -> list[Invite]:
    return list(
        scope.session.scalars(
            scope.select(Invite, Invite.accepted_at.is_(None)).order_by(Invite.created_at)
        )
    )

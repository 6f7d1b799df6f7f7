"""A member's notifications: how many are unread, the list newest first, marking read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from inboxcrm.accounts.models import Member
from inboxcrm.errors import NotFound
from inboxcrm.notifications.models import Notification
from inboxcrm.tenancy import Scope

PER_PAGE = 50


def unread_count(scope: Scope, member: Member) -> int:
    return (
        scope.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.member_id == member.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def notices(
    scope: Scope, member: Member, *, before: int | None = None, unread: bool = False
) -> list[Notification]:
    """A page of the member's notifications, newest first; `before` an id, for the next."""
    query = scope.select(Notification, Notification.member_id == member.id)
    if before is not None:
        query = query.where(Notification.id < before)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    return list(scope.session.scalars(query.limit(PER_PAGE)))


def notice(scope: Scope, member: Member, notice_id: int) -> Notification:
    """One of the member's own: another member's looks like a missing one."""
    found = scope.find(Notification, notice_id)
    if found is None or found.member_id != member.id:
        raise NotFound(f"notification {notice_id} not found")
    return found


def mark_read(scope: Scope, member: Member, notice_id: int, now: dt.datetime) -> Notification:
    found = notice(scope, member, notice_id)
    if found.read_at is None:
        found.read_at = now
        scope.session.flush()
    return found


def mark_all_read(scope: Scope, member: Member, now: dt.datetime) -> int:
    """Every unread notification of the member's, read now; returns how many."""
    result = scope.session.execute(
        update(Notification)
        .where(
            Notification.workspace_id == scope.workspace_id,
            Notification.member_id == member.id,
            Notification.read_at.is_(None),
        )
        .values(read_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)

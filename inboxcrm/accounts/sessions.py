"""Sessions kept on the server, so that signing out means it.

Why rows rather than a per-member "session generation" checked on each request: a
generation can only end all of a member's sessions at once, so signing out on one laptop
would sign the phone out too, or else signing out would leave a copied cookie working.
A row per signed-in browser ends exactly one session on sign-out, all of them on "sign out
everywhere", and carries the last-seen time the idle lifetime needs without trusting the
cookie. The cost is one indexed lookup per request (which replaces the lookup of the
member) and a write at most once a minute per session.

The cookie (Flask's signed session) carries only a random token; only its SHA-256 is
stored, so a copy of the database signs nobody in. A member's rows go with the member
(ON DELETE CASCADE), and role and workspace are read from the member row on every request,
so what an admin changes applies to the member's next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session, joinedload

from inboxcrm.accounts.models import LoginSession, Member

IDLE_LIFETIME = dt.timedelta(hours=12)
ABSOLUTE_LIFETIME = dt.timedelta(days=14)
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen_at is this precise, and writes this rarely


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expired(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        LoginSession.last_seen_at < now - IDLE_LIFETIME,
        LoginSession.created_at < now - ABSOLUTE_LIFETIME,
    )


def start_session(session: Session, member: Member, now: dt.datetime) -> str:
    """A new session for a member who just proved who they are; returns the cookie's token
    (shown to the browser once, never stored). Sessions that ran out are cleared here."""
    session.execute(delete(LoginSession).where(_expired(now)))
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            workspace_id=member.workspace_id,
            member_id=member.id,
            token_hash=_hash(token),
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def resume_session(session: Session, token: str, now: dt.datetime) -> LoginSession | None:
    """The live session a cookie's token names, seen now; None if it was ended or ran out
    (idle for IDLE_LIFETIME, or older than ABSOLUTE_LIFETIME), in which case it is gone."""
    found = session.scalars(
        select(LoginSession)
        .where(LoginSession.token_hash == _hash(token))
        # With the member's workspace, which every page's header names: one query.
        .options(joinedload(LoginSession.member).joinedload(Member.workspace))
    ).first()
    if found is None:
        return None
    stale = now - found.last_seen_at > IDLE_LIFETIME or now - found.created_at > ABSOLUTE_LIFETIME
    if stale or not found.member.active:
        session.delete(found)
        session.flush()
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        found.last_seen_at = now
    return found


def end_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(token)))


def end_all_sessions(session: Session, member: Member) -> int:
    """Sign a member out everywhere (every browser, this one included); returns how many."""
    result = session.execute(delete(LoginSession).where(LoginSession.member_id == member.id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def sessions_of(session: Session, member: Member, now: dt.datetime) -> list[LoginSession]:
    """A member's live sessions, most recently seen first."""
    return list(
        session.scalars(
            select(LoginSession)
            .where(LoginSession.member_id == member.id)
            .where(~_expired(now))
            .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
        )
    )


def is_token_of(row: LoginSession, token: str) -> bool:
    return secrets.compare_digest(row.token_hash, _hash(token))

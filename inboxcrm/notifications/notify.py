"""Notifying: a notice about a lead goes to its owner, or, when nobody owns the lead, to
the workspace's admins (someone must see a lead nobody looks after). Each notice names
its event (`key`); a member gets each event once, however often it is reported.

Set-based: three queries for any number of notices. Flushes, never commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import chunks
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.leads.models import Lead
from inboxcrm.notifications.models import NoticeKind, Notification


@dataclass(frozen=True)
class Notice:
    lead_id: int
    kind: NoticeKind
    text: str  # "{lead} turned hot": `{lead}` becomes the lead's name or address
    key: str  # the event, e.g. "hot:12:2026-03-02T09:00:00+00:00"


def notify(
    session: Session,
    workspace_id: int,
    notices: Sequence[Notice],
    now: dt.datetime,
    known: Mapping[int, tuple[str, int | None]] | None = None,
) -> int:
    """Store each notice for whoever it is for, unless they have it already; returns how
    many notifications were written. `known`: the leads' names and owners, when the
    caller has read them (of this workspace); the others are read."""
    if not notices:
        return 0
    leads: dict[int, tuple[str, int | None]] = {}
    if known:
        leads.update((n.lead_id, known[n.lead_id]) for n in notices if n.lead_id in known)
    for chunk in chunks(sorted({n.lead_id for n in notices} - leads.keys())):
        rows = session.execute(
            select(Lead.id, Lead.name, Lead.email, Lead.owner_id).where(
                Lead.workspace_id == workspace_id, Lead.id.in_(chunk)
            )
        )
        leads.update((r.id, (r.name or r.email, r.owner_id)) for r in rows)
    admins: list[int] | None = None  # looked up once, if a lead has no owner
    wanted: dict[tuple[int, str], dict[str, Any]] = {}
    for n in notices:
        if n.lead_id not in leads:
            continue
        name, owner = leads[n.lead_id]
        if owner is None and admins is None:
            admins = list(
                session.scalars(
                    select(Member.id).where(
                        Member.workspace_id == workspace_id,
                        Member.role == Role.admin,
                        Member.removed_at.is_(None),
                    )
                )
            )
        for member_id in [owner] if owner is not None else (admins or []):
            wanted.setdefault((member_id, n.key), {
                "workspace_id": workspace_id, "member_id": member_id, "lead_id": n.lead_id,
                "kind": n.kind, "text": n.text.format(lead=name)[:300], "key": n.key[:120],
                "created_at": now, "read_at": None,
            })  # fmt: skip
    if not wanted:
        return 0
    members = sorted({member_id for member_id, _ in wanted})  # few: a workspace's reps
    for keys in chunks(sorted({key for _, key in wanted})):
        have = session.execute(  # by (member, key): its unique index, not a scan of all
            select(Notification.member_id, Notification.key).where(
                Notification.workspace_id == workspace_id,
                Notification.member_id.in_(members),
                Notification.key.in_(keys),
            )
        )
        for pair in have.tuples():
            wanted.pop(pair, None)
    if wanted:
        session.execute(_insert_new(session), list(wanted.values()))
        session.flush()
    return len(wanted)


def _insert_new(session: Session) -> Insert:
    """An INSERT that skips a (member, key) stored meanwhile by a concurrent transaction."""
    table, keys = core_table(Notification), ["member_id", "key"]
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)


def notify_admins(
    session: Session, workspace_id: int, kind: NoticeKind, text: str, key: str, now: dt.datetime
) -> int:
    """A notice about the workspace, about no lead, for each of its admins (once per key)."""
    admins = list(
        session.scalars(
            select(Member.id).where(Member.workspace_id == workspace_id, Member.role == Role.admin)
        )
    )
    rows = [
        {"workspace_id": workspace_id, "member_id": m, "lead_id": None, "kind": kind,
         "text": text[:300], "key": key[:120], "created_at": now, "read_at": None}
        for m in admins
    ]  # fmt: skip
    if rows:
        session.execute(_insert_new(session), rows)
    return len(rows)

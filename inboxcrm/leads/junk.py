"""Junk control: "Not a lead", and the blocklist that keeps junk from coming back.

Removing a lead removes it and everything that hangs off it (addresses, thread links,
activities, notes, stage history); the mail stays. Threads it was the primary lead of get
their primary lead again from the leads left on them.

Who may do what is `Action.junk` and `Action.block_domain` in accounts/permissions.py, as
in CRMs where reps own their book: admins junk any lead and block addresses and whole
domains; reps junk their own leads and unowned ones, and may block those leads'
addresses; a domain is blocked for everyone, so only admins block domains. Marketers do
not remove leads.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select, update

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import Action, require, require_admin, require_some
from inboxcrm.addresses import company_domain
from inboxcrm.errors import Invalid
from inboxcrm.events import EventType, emit_many
from inboxcrm.leads.blocklist import Blocklist, display_pattern, normalize_pattern
from inboxcrm.leads.capture.batch import capture_threads
from inboxcrm.leads.models import BlockedAddress, Lead, LeadEmail
from inboxcrm.leads.serialize import lead_ref
from inboxcrm.leads.service import selected_leads
from inboxcrm.mail.models import Thread
from inboxcrm.tenancy import Scope


class Block(enum.StrEnum):
    """What "Not a lead" also blocks."""

    address = "address"
    domain = "domain"


def parse_block(raw: str | None) -> Block | None:
    value = (raw or "").strip()
    if not value or value == "none":
        return None
    if value not in Block.__members__:
        raise Invalid("block must be 'address', 'domain' or empty", {"block": "unknown choice"})
    return Block(value)


@dataclass
class Junked:
    removed: list[str] = field(default_factory=list)  # the removed leads' addresses
    blocked: list[str] = field(default_factory=list)  # patterns added to the blocklist
    kept: list[Lead] = field(default_factory=list)  # blocked, but a rep has worked on them
    removed_names: list[str] = field(default_factory=list)  # the same leads, as pages name them

    def summary(self) -> str:
        parts = [f"Removed {len(self.removed)} lead{'s' if len(self.removed) != 1 else ''}"]
        if self.blocked:
            parts.append("blocked " + ", ".join(display_pattern(p) for p in self.blocked))
        text = "; ".join(parts) + "."
        if self.kept:
            names = ", ".join(lead.name or lead.email for lead in self.kept[:5])
            more = f" and {len(self.kept) - 5} more" if len(self.kept) > 5 else ""
            text += f" Kept {names}{more}: reps have worked on them."
        return text


def remove_leads(scope: Scope, leads: Sequence[Lead], now: dt.datetime) -> list[str]:
    """Delete leads and their links; threads they headed get a primary lead again."""
    ids = [lead.id for lead in leads]
    if not ids:
        return []
    session = scope.session
    threads = set(
        session.scalars(
            select(Thread.id).where(
                Thread.workspace_id == scope.workspace_id, Thread.primary_lead_id.in_(ids)
            )
        )
    )
    if threads:
        session.execute(
            update(Thread)
            .where(Thread.id.in_(threads))
            .values(primary_lead_id=None, primary_by_rep=False)
        )
    emails = [lead.email for lead in leads]
    emit_many(session, scope.workspace_id, EventType.lead_removed, now,
              [(lead.id, {"lead": lead_ref(lead)}) for lead in leads])  # fmt: skip
    for lead in leads:
        session.delete(lead)  # the database cascades links, activities, notes, history
    session.flush()
    capture_threads(session, scope.workspace_id, threads, now, create=False)
    return emails


def _add_patterns(
    scope: Scope, patterns: Iterable[str], actor: Member, now: dt.datetime
) -> list[str]:
    wanted = list(dict.fromkeys(patterns))
    existing = set(
        scope.session.scalars(
            scope.select(BlockedAddress, BlockedAddress.pattern.in_(wanted)).with_only_columns(
                BlockedAddress.pattern
            )
        )
    )
    added = [p for p in wanted if p not in existing]
    for pattern in added:
        scope.session.add(
            BlockedAddress(
                workspace_id=scope.workspace_id,
                pattern=pattern,
                created_by_id=actor.id,
                created_at=now,
            )
        )
    scope.session.flush()
    return added


def _blocked_leads(scope: Scope, patterns: Sequence[str]) -> list[Lead]:
    """Leads every address of which the blocklist now covers, through one of `patterns`."""
    if not patterns:
        return []
    terms: list[ColumnElement[bool]] = []
    for pattern in patterns:
        if pattern.startswith("@"):
            domain = pattern[1:]
            forms = {domain, display_pattern(pattern)[1:]}  # addresses keep Unicode domains
            for form in forms:
                terms += [LeadEmail.email.like(f"%@{form}"), LeadEmail.email.like(f"%.{form}")]
        else:
            terms.append(LeadEmail.email == pattern)
    lead_ids = set(
        scope.session.scalars(
            scope.select(LeadEmail, or_(*terms)).with_only_columns(LeadEmail.lead_id)
        )
    )
    if not lead_ids:
        return []
    blocklist = Blocklist.load(scope)
    leads = scope.session.scalars(scope.select(Lead, Lead.id.in_(lead_ids))).unique()
    return [
        lead
        for lead in leads
        if lead.emails and all(blocklist.blocks(e.email) for e in lead.emails)
    ]


def _clean(scope: Scope, patterns: Sequence[str], now: dt.datetime, result: Junked) -> None:
    """Existing junk the new patterns cover: untouched leads from mail go, worked-on stay."""
    junk: list[Lead] = []
    kept: list[Lead] = []
    for lead in _blocked_leads(scope, patterns):
        (junk if lead.needs_review else kept).append(lead)
    result.removed_names += [lead.name or lead.email for lead in junk]
    result.removed += remove_leads(scope, junk, now)
    result.kept += kept


def block(scope: Scope, raw: str, actor: Member, now: dt.datetime) -> tuple[BlockedAddress, Junked]:
    """Add an address or @domain to the blocklist (admins) and clean up existing junk.
    Blocking what is already blocked returns the existing entry."""
    require_admin(actor, "change the blocklist")
    pattern = normalize_pattern(raw)
    result = Junked(blocked=_add_patterns(scope, [pattern], actor, now))
    _clean(scope, result.blocked, now, result)
    row = scope.session.scalars(
        scope.select(BlockedAddress, BlockedAddress.pattern == pattern)
    ).one()
    return row, result


def unblock(scope: Scope, block_id: int, actor: Member) -> None:
    """Take an entry off the blocklist; leads removed before are not brought back."""
    require_admin(actor, "change the blocklist")
    scope.session.delete(scope.get(BlockedAddress, block_id))
    scope.session.flush()


def _patterns_for(leads: Sequence[Lead], choice: Block) -> list[str]:
    patterns: list[str] = []
    for lead in leads:
        for address in [e.email for e in lead.emails] or [lead.email]:
            domain = company_domain(address) if choice is Block.domain else None
            # A free-mail domain is everyone's: block the address instead.
            patterns.append(f"@{domain}" if domain else normalize_pattern(address))
    return list(dict.fromkeys(patterns))


def not_a_lead(
    scope: Scope, lead_ids: Sequence[int], actor: Member, choice: Block | None, now: dt.datetime
) -> Junked:
    """Remove these leads, all of them or (on any refusal) none; optionally block their
    addresses or domains, which also removes other untouched leads the block covers."""
    leads = selected_leads(scope, lead_ids)
    require_some(actor, Action.junk)
    for lead in leads:
        require(actor, Action.junk, lead.owner_id, lead.name or lead.email)
    if choice is Block.domain:
        require_some(actor, Action.block_domain)
        for lead in leads:
            require(actor, Action.block_domain, lead.owner_id, lead.name or lead.email)
    patterns = _patterns_for(leads, choice) if choice else []
    result = Junked(removed_names=[lead.name or lead.email for lead in leads])
    result.removed = remove_leads(scope, leads, now)
    result.blocked = _add_patterns(scope, patterns, actor, now)
    _clean(scope, result.blocked, now, result)
    return result

"""Suppression: the addresses and `@domain`s no mailbox of the workspace sends to, with why
(unsubscribed, hard bounce, complaint, manual), when and from which message or send.

The dispatcher asks `suppressed` at send time, for every send from every mailbox, so an
unsubscribe committed now stops the next send whichever mailbox it comes from. Patterns
are stored as the capture blocklist stores its own (a normalized address, or `@` and an
ASCII domain, which covers its subdomains), but the two lists are different things: a
blocked address never becomes a lead; a suppressed lead stays a lead and gets no mail.

A manual suppression ("Do not email") is the only kind an admin may lift. When the person
or their mail server says no as well, the reason becomes theirs, and stays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import Action, require
from inboxcrm.addresses import domain_key, normalize_email
from inboxcrm.db import chunks
from inboxcrm.errors import Conflict, Invalid, NotFound
from inboxcrm.events import EventType, emit_many
from inboxcrm.leads.blocklist import display_pattern, normalize_pattern
from inboxcrm.leads.models import Lead
from inboxcrm.leads.serialize import lead_refs
from inboxcrm.outbox.models import LIFTABLE, Suppression, SuppressionReason
from inboxcrm.tenancy import Scope

REASON_TEXT = {
    SuppressionReason.unsubscribed: "unsubscribed",
    SuppressionReason.hard_bounce: "mail to it bounced for good",
    SuppressionReason.complaint: "marked our mail as spam",
    SuppressionReason.manual: "marked “Do not email”",
}
SOURCE_TEXT = {
    "one_click": "with the unsubscribe link",
    "mailto": "by email to the unsubscribe address",
    "reply": "in a reply",
    "bounce": "",
    "manual": "",
    "api": "through the API",
    "migration": "",
}


@dataclass(frozen=True)
class Suppress:
    """A suppression to record: `pattern` as a person wrote it (an address or `@domain`)."""

    pattern: str
    reason: SuppressionReason
    source: str
    lead_id: int | None = None
    message_id: int | None = None
    send_ref: str | None = None
    by_id: int | None = None


def pattern_of(raw: str) -> str:
    """The stored form of an address or `@domain` (Invalid if it is neither)."""
    return normalize_pattern(raw)


def _candidates(address: str) -> list[str]:
    """What would suppress an address: itself, then its domain and each parent domain."""
    domain = domain_key(address)
    found = [address]
    while domain:
        found.append("@" + domain)
        dot = domain.find(".")
        domain = domain[dot + 1 :] if dot >= 0 else ""
    return found


def _normalized(address: str) -> str:
    try:
        return normalize_email(address)
    except Invalid:
        return address.strip().lower()


def suppressed(
    session: Session, workspace_id: int, addresses: Iterable[str]
) -> dict[str, Suppression]:
    """The suppression that stops mail to each of `addresses` (the address's own first,
    else its most specific domain's), by the address as given; the others are absent.
    One query per IN chunk, however many addresses."""
    wanted = {a: _normalized(a) for a in addresses}
    candidates = {a: _candidates(n) for a, n in wanted.items()}
    patterns = {p for found in candidates.values() for p in found}
    rows: dict[str, Suppression] = {}
    for chunk in chunks(patterns):
        rows.update(
            (row.pattern, row)
            for row in session.scalars(
                select(Suppression).where(
                    Suppression.workspace_id == workspace_id, Suppression.pattern.in_(chunk)
                )
            )
        )
    result: dict[str, Suppression] = {}
    for address, found in candidates.items():
        hit = next((rows[p] for p in found if p in rows), None)
        if hit is not None:
            result[address] = hit
    return result


def suppress(
    session: Session, workspace_id: int, wanted: Iterable[Suppress], now: dt.datetime
) -> list[Suppression]:
    """Record suppressions, set-based and idempotent: a pattern already suppressed keeps
    its row, except that a manual one takes the reason of a person's or a server's no.
    Returns the rows added or changed. Flushes; the caller commits."""
    by_pattern: dict[str, Suppress] = {}
    for item in wanted:
        pattern = pattern_of(item.pattern)
        by_pattern.setdefault(pattern, replace(item, pattern=pattern))
    if not by_pattern:
        return []
    existing: dict[str, Suppression] = {}
    for chunk in chunks(by_pattern):
        existing.update(
            (row.pattern, row)
            for row in session.scalars(
                select(Suppression).where(
                    Suppression.workspace_id == workspace_id, Suppression.pattern.in_(chunk)
                )
            )
        )
    changed: list[Suppression] = []
    for pattern, item in by_pattern.items():
        row = existing.get(pattern)
        if row is None:
            row = _insert(session, workspace_id, item, now)
            if row is not None:
                changed.append(row)
                continue
            row = session.scalars(
                select(Suppression).where(
                    Suppression.workspace_id == workspace_id, Suppression.pattern == pattern
                )
            ).one()
        if row.reason in LIFTABLE and item.reason not in LIFTABLE:
            _fill(row, item, now)
            changed.append(row)
    session.flush()
    _emit_unsubscribes(session, workspace_id, changed, now)
    return changed


def _emit_unsubscribes(
    session: Session, workspace_id: int, changed: list[Suppression], now: dt.datetime
) -> None:
    """A `lead.unsubscribed` event per address that has just said no (once: a second
    unsubscribe changes no row)."""
    rows = [r for r in changed if r.reason is SuppressionReason.unsubscribed]
    if not rows:
        return
    who = lead_refs(session, [r.lead_id for r in rows])
    emit_many(session, workspace_id, EventType.lead_unsubscribed, now, [
        (r.lead_id, {"lead": who.get(r.lead_id) if r.lead_id is not None else None,
                     "address": r.pattern, "how": r.source})
        for r in rows
    ])  # fmt: skip


def _fill(row: Suppression, item: Suppress, now: dt.datetime) -> None:
    row.reason, row.source, row.suppressed_at = item.reason, item.source, now
    row.lead_id = item.lead_id if item.lead_id is not None else row.lead_id
    row.message_id, row.send_ref, row.by_id = item.message_id, item.send_ref, item.by_id


def _insert(
    session: Session, workspace_id: int, item: Suppress, now: dt.datetime
) -> Suppression | None:
    """Insert one row; None when another transaction inserted the pattern first."""
    row = Suppression(workspace_id=workspace_id, pattern=item.pattern)
    _fill(row, item, now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def lead_suppressions(session: Session, lead: Lead) -> dict[str, Suppression]:
    """What stops mail to each of the lead's addresses."""
    return suppressed(session, lead.workspace_id, [e.email for e in lead.emails] or [lead.email])


def do_not_email(
    scope: Scope, actor: Member, lead: Lead, address: str | None, now: dt.datetime
) -> Suppression:
    """ "Do not email": a manual suppression of one of the lead's addresses (its primary one
    by default) or of a domain (`@acme.com`)."""
    require(actor, Action.suppress, lead.owner_id, lead.name or lead.email)
    raw = (address or lead.email).strip()
    pattern = pattern_of(raw)
    if not pattern.startswith("@") and pattern not in {e.email for e in lead.emails}:
        raise Invalid(
            f"{raw} is not an address of {lead.name or lead.email}", {"address": "not the lead's"}
        )
    source = "manual"
    suppress(
        scope.session,
        scope.workspace_id,
        [Suppress(pattern, SuppressionReason.manual, source, lead_id=lead.id, by_id=actor.id)],
        now,
    )
    return scope.session.scalars(
        select(Suppression).where(
            Suppression.workspace_id == scope.workspace_id, Suppression.pattern == pattern
        )
    ).one()


def lift(scope: Scope, actor: Member, lead: Lead, suppression_id: int) -> str:
    """Lift a manual suppression of the lead's (admins only); an unsubscribe, a bounce or
    a complaint is never lifted. Returns the pattern lifted, as people write it."""
    require(actor, Action.lift, lead.owner_id, lead.name or lead.email)
    row = scope.find(Suppression, suppression_id)
    if row is None or row.pattern not in _lead_patterns(lead):
        raise NotFound("no such suppression on this lead")
    if row.reason not in LIFTABLE:
        raise Conflict(
            f"{display_pattern(row.pattern)} {REASON_TEXT[row.reason]}: only a manual "
            "“Do not email” can be lifted"
        )
    scope.session.delete(row)
    scope.session.flush()
    return display_pattern(row.pattern)


def _lead_patterns(lead: Lead) -> set[str]:
    return {p for e in lead.emails for p in _candidates(e.email)} | set(_candidates(lead.email))


def describe(row: Suppression) -> str:
    """`unsubscribed with the unsubscribe link`: why, in words, for pages."""
    how = SOURCE_TEXT.get(row.source, "")
    return f"{REASON_TEXT[row.reason]} {how}".strip()

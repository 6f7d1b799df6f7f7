"""Applying an import's rows a batch at a time, and undoing them: set-based Core
statements (a thousand rows are a few queries), each batch journaled in
`lead_import_row` in its own transaction, so a killed run resumes where it stopped and
undo puts back exactly what the import changed."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from inboxcrm.addresses import company_domain
from inboxcrm.db import chunks
from inboxcrm.events import EventType, emit_many
from inboxcrm.exchange.models import ImportedLead, LeadImport
from inboxcrm.exchange.plan import Kind, Planned
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.leads.models import Company, CompanyDomain, Lead, LeadEmail, Note, Tag, lead_tag
from inboxcrm.leads.service import FIT_FIELDS, search_text
from inboxcrm.mail.models import Thread
from inboxcrm.mail.store import queue_relabel
from inboxcrm.stages.models import ChangeSource, StageChange

# The lead's columns an import sets (besides stage, owner and company), and puts back.
COLUMNS = (
    "name",
    "title",
    "phone",
    "budget",
    "authority",
    "need",
    "timeline",
    "next_step",
    "deal_value",
    "currency",
)
RESTORED = (*COLUMNS, "stage_id", "owner_id", "company_id")


def _json(value: Any) -> Any:
    return str(value) if isinstance(value, decimal.Decimal) else value


def _companies(
    session: Session, imp: LeadImport, planned: Sequence[Planned], now: dt.datetime
) -> dict[int, tuple[int, str] | None]:
    """Each row's company (id, name) by row number: the one owning the address's
    registrable domain, else the one with the row's company name, else a new one (which
    claims the domain); None when the row names none and no company owns the domain."""
    ws = imp.workspace_id
    domain_of = {p.row.number: company_domain(p.row.emails[0]) for p in planned}
    by_domain: dict[str, tuple[int, str]] = {}
    for chunk in chunks(sorted({d for d in domain_of.values() if d})):
        rows = session.execute(
            select(CompanyDomain.domain, Company.id, Company.name)
            .join(Company, Company.id == CompanyDomain.company_id)
            .where(CompanyDomain.workspace_id == ws, CompanyDomain.domain.in_(chunk))
        )
        by_domain.update((d, (i, n)) for d, i, n in rows.tuples())
    names = sorted({p.row.company.lower() for p in planned if p.row.company})
    by_name: dict[str, tuple[int, str]] = {}
    for chunk in chunks(names):
        rows = session.execute(
            select(func.lower(Company.name), Company.id, Company.name)
            .where(Company.workspace_id == ws, func.lower(Company.name).in_(chunk))
            .order_by(Company.id)
        )
        for key, i, n in rows.tuples():
            by_name.setdefault(key, (i, n))
    found: dict[int, tuple[int, str] | None] = {}
    new: dict[str, tuple[str, str | None]] = {}  # lower name -> (name, domain to claim)
    for p in planned:
        domain = domain_of[p.row.number]
        if p.kind is not Kind.created and not p.row.company:
            continue  # an existing lead keeps its company unless the row names one
        if domain and domain in by_domain:
            found[p.row.number] = by_domain[domain]
        elif p.row.company:
            key = p.row.company.lower()
            if key not in by_name and key not in new:
                claim = domain if domain and domain not in {d for _, d in new.values()} else None
                new[key] = (p.row.company, claim)
            found[p.row.number] = by_name.get(key)  # filled below for new ones
        else:
            found[p.row.number] = None
    if new:
        made = [{"workspace_id": ws, "name": n, "created_at": now} for n, _ in new.values()]
        ids = session.scalars(
            insert(Company).returning(Company.id, sort_by_parameter_order=True), made
        ).all()
        claims = [
            {"workspace_id": ws, "company_id": i, "domain": d}
            for i, (_, d) in zip(ids, new.values(), strict=True)
            if d
        ]
        if claims:
            session.execute(insert(CompanyDomain), claims)
        imp.companies = [*imp.companies, *ids]
        for i, (key, (name, _)) in zip(ids, new.items(), strict=True):
            by_name[key] = (i, name)
        for p in planned:
            if p.row.number in found and found[p.row.number] is None and p.row.company:
                found[p.row.number] = by_name.get(p.row.company.lower())
    return found


def _tag_ids(session: Session, ws: int, names: Iterable[str]) -> dict[str, int]:
    lowered = {n.lower(): n for n in names}
    ids: dict[str, int] = {}
    for chunk in chunks(sorted(lowered)):
        ids.update(
            session.execute(
                select(func.lower(Tag.name), Tag.id).where(
                    Tag.workspace_id == ws, func.lower(Tag.name).in_(chunk)
                )
            )
            .tuples()
            .all()
        )
    missing = [lowered[k] for k in lowered if k not in ids]
    if missing:
        made = session.scalars(
            insert(Tag).returning(Tag.id, sort_by_parameter_order=True),
            [{"workspace_id": ws, "name": n} for n in missing],
        ).all()
        ids.update((n.lower(), i) for n, i in zip(missing, made, strict=True))
    return ids


def _note(imp: LeadImport, row_notes: list[tuple[str, str]]) -> str:
    lines = "\n".join(f"{column}: {value}" for column, value in row_notes)
    return f"Imported from {imp.filename}:\n{lines}"


def apply(
    session: Session,
    imp: LeadImport,
    planned: Sequence[Planned],
    entry_stage_id: int,
    now: dt.datetime,
) -> None:
    """Create and update the planned leads of one batch; journal what changed."""
    if not planned:
        return
    companies = _companies(session, imp, planned, now)
    tags = _tag_ids(session, imp.workspace_id, {t for p in planned for t in p.row.tags})
    made = [p for p in planned if p.kind is Kind.created]
    changed = [p for p in planned if p.kind is not Kind.created]
    if made:
        _create(session, imp, made, companies, tags, entry_stage_id, now)
    if changed:
        _update(session, imp, changed, companies, tags, now)
    imp.created += len(made)
    imp.updated += sum(p.kind is Kind.updated for p in changed)
    imp.merged += sum(p.kind is Kind.merged for p in changed)


def _create(
    session: Session,
    imp: LeadImport,
    made: Sequence[Planned],
    companies: dict[int, tuple[int, str] | None],
    tags: dict[str, int],
    entry_stage_id: int,
    now: dt.datetime,
) -> None:
    ws = imp.workspace_id
    rows: list[dict[str, Any]] = []
    for p in made:
        company = companies.get(p.row.number)
        values = {c: p.row.values.get(c) for c in COLUMNS}
        values["name"] = values["name"] or ""
        values["currency"] = values["currency"] or "USD"
        rows.append(
            {
                "workspace_id": ws,
                **values,
                "email": p.row.emails[0],
                "company_id": company[0] if company else None,
                "owner_id": p.owner_id if p.owner_id is not None else imp.member_id,
                "stage_id": p.stage_id or entry_stage_id,
                "source": "import",
                "needs_review": False,
                "search_text": search_text(
                    str(values["name"]), p.row.emails, company[1] if company else ""
                ),
                "created_at": now,
                "updated_at": now,
                "link_mail_at": now,
                "rescore_at": now,
            }
        )
    session.execute(insert(core_table(Lead)), rows)  # no RETURNING: SQLite goes row by row
    ids: dict[str, int] = {}
    for chunk in chunks([p.row.emails[0] for p in made]):
        ids.update(
            session.execute(
                select(Lead.email, Lead.id).where(Lead.workspace_id == ws, Lead.email.in_(chunk))
            )
            .tuples()
            .all()
        )
    session.execute(
        insert(core_table(LeadEmail)),
        [
            {"workspace_id": ws, "lead_id": ids[p.row.emails[0]], "email": e}
            for p in made
            for e in p.row.emails
        ],
    )
    pairs = [
        {"lead_id": ids[p.row.emails[0]], "tag_id": tags[t.lower()]}
        for p in made
        for t in p.row.tags
    ]
    if pairs:
        session.execute(insert(lead_tag), pairs)
    notes = [
        {
            "workspace_id": ws,
            "lead_id": ids[p.row.emails[0]],
            "author_id": imp.member_id,
            "body": _note(imp, p.row.notes),
            "created_at": now,
        }
        for p in made
        if p.row.notes
    ]
    if notes:
        session.execute(insert(core_table(Note)), notes)
    session.execute(
        insert(ImportedLead),
        [
            {"import_id": imp.id, "lead_id": ids[p.row.emails[0]], "made": True, "before": {}}
            for p in made
        ],
    )
    emit_many(
        session,
        ws,
        EventType.lead_created,
        now,
        [
            (
                lead_id,
                {
                    "id": lead_id,
                    "email": row["email"],
                    "name": row["name"],
                    "source": "import",
                    "company": row["company_id"] and {"id": row["company_id"]},
                    "owner_id": row["owner_id"],
                    "stage_id": row["stage_id"],
                },
            )
            for row in rows
            for lead_id in (ids[row["email"]],)
        ],
    )


def _update(
    session: Session,
    imp: LeadImport,
    changed: Sequence[Planned],
    companies: dict[int, tuple[int, str] | None],
    tags: dict[str, int],
    now: dt.datetime,
) -> None:
    ws = imp.workspace_id
    ids = [p.lead_id for p in changed if p.lead_id is not None]
    current: dict[int, dict[str, Any]] = {}
    emails: dict[int, list[str]] = {}
    has_tags: dict[int, set[int]] = {}
    for chunk in chunks(ids):
        rows = session.execute(
            select(Lead.id, *(getattr(Lead, c) for c in RESTORED), Company.name.label("company"))
            .outerjoin(Company, Company.id == Lead.company_id)
            .where(Lead.id.in_(chunk))
        ).mappings()
        current.update((r["id"], dict(r)) for r in rows)
        for lead_id, email in session.execute(
            select(LeadEmail.lead_id, LeadEmail.email)
            .where(LeadEmail.lead_id.in_(chunk))
            .order_by(LeadEmail.id)
        ).tuples():
            emails.setdefault(lead_id, []).append(email)
        for lead_id, tag_id in session.execute(
            select(lead_tag.c.lead_id, lead_tag.c.tag_id).where(lead_tag.c.lead_id.in_(chunk))
        ).tuples():
            has_tags.setdefault(lead_id, set()).add(tag_id)
    journal: list[dict[str, Any]] = []
    moves: list[tuple[int, int, int]] = []  # lead, from, to
    events: list[tuple[int | None, dict[str, Any]]] = []
    for p in changed:
        if p.lead_id is None or p.lead_id not in current:
            continue
        lead_id = p.lead_id
        now_row = current[lead_id]
        wanted = {c: v for c, v in p.row.values.items() if v is not None}
        if p.stage_id is not None:
            wanted["stage_id"] = p.stage_id
        if p.owner_id is not None:
            wanted["owner_id"] = p.owner_id
        company = companies.get(p.row.number)
        if company is not None:
            wanted["company_id"] = company[0]
        changes = {c: v for c, v in wanted.items() if now_row[c] != v}
        added = [e for e in p.row.emails if e not in emails.get(lead_id, [])]
        new_tags = [
            tags[t.lower()]
            for t in p.row.tags
            if tags[t.lower()] not in has_tags.get(lead_id, set())
        ]
        new_tags = list(dict.fromkeys(new_tags))
        before: dict[str, Any] = {c: _json(now_row[c]) for c in changes}
        if added:
            session.execute(
                insert(core_table(LeadEmail)),
                [{"workspace_id": ws, "lead_id": lead_id, "email": e} for e in added],
            )
            before["emails_added"] = added
        if new_tags:
            session.execute(insert(lead_tag), [{"lead_id": lead_id, "tag_id": t} for t in new_tags])
            before["tags_added"] = new_tags
        if p.row.notes:
            note_id = session.scalar(
                insert(Note).returning(Note.id),
                {
                    "workspace_id": ws,
                    "lead_id": lead_id,
                    "author_id": imp.member_id,
                    "body": _note(imp, p.row.notes),
                    "created_at": now,
                },
            )
            before["notes_added"] = [note_id]
        if not (changes or added or new_tags or p.row.notes):
            continue
        values: dict[str, Any] = {**changes, "updated_at": now}
        name = changes.get("name", now_row["name"])
        company_name = company[1] if company is not None else now_row["company"]
        values["search_text"] = search_text(
            name, [*emails.get(lead_id, []), *added], company_name or ""
        )
        if added:
            values["link_mail_at"] = now
        if set(changes) & (FIT_FIELDS | {"company_id"}):
            values["rescore_at"] = now
        session.execute(update(Lead).where(Lead.id == lead_id).values(values))
        if "stage_id" in changes:
            moves.append((lead_id, now_row["stage_id"], changes["stage_id"]))
        journal.append({"import_id": imp.id, "lead_id": lead_id, "made": False, "before": before})
        events.append(
            (
                lead_id,
                {
                    "lead": {"id": lead_id, "email": emails.get(lead_id, [""])[0]},
                    "fields": sorted({*changes, *(["emails"] if added else [])}),
                },
            )
        )
    if journal:
        session.execute(insert(ImportedLead), journal)
    _record_moves(session, imp, moves, now, "import")
    emit_many(session, ws, EventType.lead_updated, now, events)


def _record_moves(
    session: Session,
    imp: LeadImport,
    moves: list[tuple[int, int, int]],
    now: dt.datetime,
    what: str,
) -> None:
    """Stage changes an import (or its undo) made: recorded, their threads relabelled."""
    if not moves:
        return
    session.execute(
        insert(StageChange),
        [
            {
                "workspace_id": imp.workspace_id,
                "lead_id": lead,
                "from_stage_id": a,
                "to_stage_id": b,
                "changed_at": now,
                "source": ChangeSource.import_,
                "member_id": imp.member_id,
                "detail": f"{what} of {imp.filename}"[:300],
            }
            for lead, a, b in moves
        ],
    )
    emit_many(
        session,
        imp.workspace_id,
        EventType.stage_changed,
        now,
        [
            (
                lead,
                {
                    "lead": {"id": lead},
                    "from": {"id": a},
                    "to": {"id": b},
                    "source": "import",
                    "member_id": imp.member_id,
                },
            )
            for lead, a, b in moves
        ],
    )
    for chunk in chunks([lead for lead, _, _ in moves]):
        queue_relabel(
            session, now, Thread.workspace_id == imp.workspace_id, Thread.primary_lead_id.in_(chunk)
        )


def undo(
    session: Session, imp: LeadImport, journal: Sequence[ImportedLead], now: dt.datetime
) -> None:
    """Put back one batch of the journal: leads the import made removed, the fields it
    changed restored, the addresses, tags and notes it added taken away."""
    ws = imp.workspace_id
    made = [j.lead_id for j in journal if j.made]
    for chunk in chunks(made):
        gone = list(
            session.execute(
                select(Lead.id, Lead.email, Lead.name).where(
                    Lead.workspace_id == ws, Lead.id.in_(chunk)
                )
            )
            .tuples()
            .all()
        )
        emit_many(
            session,
            ws,
            EventType.lead_removed,
            now,
            [(i, {"lead": {"id": i, "email": e, "name": n}}) for i, e, n in gone],
        )
        session.execute(delete(Lead).where(Lead.workspace_id == ws, Lead.id.in_(chunk)))
    moves: list[tuple[int, int, int]] = []
    for j in journal:
        if j.made:
            continue
        before = dict(j.before)
        lead_stage = session.scalar(
            select(Lead.stage_id).where(Lead.workspace_id == ws, Lead.id == j.lead_id)
        )
        if lead_stage is None:
            continue  # removed or merged since: nothing to put back
        if emails := before.pop("emails_added", None):
            session.execute(
                delete(LeadEmail).where(LeadEmail.lead_id == j.lead_id, LeadEmail.email.in_(emails))
            )
        if tag_ids := before.pop("tags_added", None):
            session.execute(
                delete(lead_tag).where(
                    lead_tag.c.lead_id == j.lead_id, lead_tag.c.tag_id.in_(tag_ids)
                )
            )
        if notes := before.pop("notes_added", None):
            session.execute(delete(Note).where(Note.lead_id == j.lead_id, Note.id.in_(notes)))
        values = {
            c: (decimal.Decimal(v) if c == "deal_value" and v is not None else v)
            for c, v in before.items()
        }
        if "stage_id" in values and values["stage_id"] != lead_stage:
            moves.append((j.lead_id, lead_stage, int(values["stage_id"])))
        values["updated_at"] = now
        session.execute(update(Lead).where(Lead.id == j.lead_id).values(values))
        _refresh_search(session, j.lead_id)
    _record_moves(session, imp, moves, now, "undo")
    session.execute(delete(ImportedLead).where(ImportedLead.id.in_([j.id for j in journal])))


def _refresh_search(session: Session, lead_id: int) -> None:
    name, company = session.execute(
        select(Lead.name, Company.name)
        .outerjoin(Company, Company.id == Lead.company_id)
        .where(Lead.id == lead_id)
    ).one()
    emails = list(
        session.scalars(
            select(LeadEmail.email).where(LeadEmail.lead_id == lead_id).order_by(LeadEmail.id)
        )
    )
    session.execute(
        update(Lead)
        .where(Lead.id == lead_id)
        .values(search_text=search_text(name, emails, company or ""))
    )


def drop_empty_companies(session: Session, imp: LeadImport) -> None:
    """The companies the import made that no lead is at any more."""
    for chunk in chunks(imp.companies):
        used = set(
            session.scalars(select(Lead.company_id).where(Lead.company_id.in_(chunk)).distinct())
        )
        empty = [c for c in chunk if c not in used]
        if empty:
            session.execute(
                delete(Company).where(
                    Company.workspace_id == imp.workspace_id, Company.id.in_(empty)
                )
            )

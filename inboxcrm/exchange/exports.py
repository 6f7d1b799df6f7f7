"""The leads table as a CSV file, as filtered and sorted, or a segment's leads: streamed
a thousand rows at a time (memory stays flat however many leads), each cell that a
spreadsheet would run as a formula escaped (OWASP: a leading `'`), UTF-8 with a BOM so
Excel reads it as such."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, select

from inboxcrm.accounts.models import Member
from inboxcrm.db import chunks
from inboxcrm.leads.models import Company, Lead, LeadEmail, Tag, lead_tag
from inboxcrm.leads.service import LeadFilter, filtered, sort_order
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import checked, segment_leads
from inboxcrm.stages.models import Stage
from inboxcrm.tenancy import Scope

HEADER = (
    "Name",
    "Email",
    "Other emails",
    "Company",
    "Title",
    "Phone",
    "Stage",
    "Owner",
    "Score",
    "Temperature",
    "Deal value",
    "Currency",
    "Tags",
    "Last contacted",
    "Created",
)
CHUNK = 1_000
_RISKY = ("=", "+", "-", "@", "\t", "\r")


def escape(cell: str) -> str:
    """A cell a spreadsheet would read as a formula, made text."""
    return "'" + cell if cell.startswith(_RISKY) else cell


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, decimal.Decimal):
        return f"{value:f}"
    return escape(str(getattr(value, "value", value)))


def streamed(scope: Scope, file: Iterator[str]) -> Iterator[str]:
    """A file for a response: the read's transaction ends with the file, not when the
    server gets round to closing the response."""
    try:
        yield from file
    finally:
        scope.session.rollback()


def export_csv(scope: Scope, flt: LeadFilter) -> Iterator[str]:
    """The leads table's file, a chunk of text at a time."""
    return leads_csv(scope, filtered(scope, flt).order_by(*sort_order(flt.sort)))


def segment_csv(scope: Scope, segment: Segment, now: dt.datetime) -> Iterator[str]:
    """A segment's leads as of `now`, oldest first; Invalid (before any of the file) when
    its filter no longer holds."""
    return leads_csv(scope, segment_leads(scope, checked(segment.filter), now).order_by(Lead.id))


def leads_csv(scope: Scope, leads: Select[Any]) -> Iterator[str]:
    """The file of the leads a query selects, in its order, a chunk of text at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield "\ufeff" + buffer.getvalue()
    query = (
        leads.with_only_columns(
            Lead.id,
            Lead.name,
            Lead.email,
            Company.name.label("company"),
            Lead.title,
            Lead.phone,
            Stage.name.label("stage"),
            Member.email.label("owner"),
            Lead.score,
            Lead.temperature,
            Lead.deal_value,
            Lead.currency,
            Lead.last_contacted_at,
            Lead.created_at,
        )
        .select_from(Lead)
        .join(Stage, Stage.id == Lead.stage_id)
        .outerjoin(Company, Company.id == Lead.company_id)
        .outerjoin(Member, Member.id == Lead.owner_id)
        .execution_options(yield_per=CHUNK)
    )
    session = scope.session
    for part in session.execute(query).partitions():
        ids = [row[0] for row in part]
        others: dict[int, list[str]] = {}
        tags: dict[int, list[str]] = {}
        for chunk in chunks(ids):
            for lead_id, email in session.execute(
                select(LeadEmail.lead_id, LeadEmail.email)
                .where(LeadEmail.lead_id.in_(chunk))
                .order_by(LeadEmail.id)
            ).tuples():
                others.setdefault(lead_id, []).append(email)
            for lead_id, name in session.execute(
                select(lead_tag.c.lead_id, Tag.name)
                .join(Tag, Tag.id == lead_tag.c.tag_id)
                .where(lead_tag.c.lead_id.in_(chunk))
                .order_by(Tag.name)
            ).tuples():
                tags.setdefault(lead_id, []).append(name)
        buffer.seek(0)
        buffer.truncate()
        for row in part:
            other = " ".join(e for e in others.get(row.id, []) if e != row.email)
            tagged = ", ".join(tags.get(row.id, []))
            cells = (
                row.name,
                row.email,
                other,
                row.company,
                row.title,
                row.phone,
                row.stage,
                row.owner,
                row.score,
                row.temperature,
                row.deal_value,
                row.currency,
                tagged,
                row.last_contacted_at,
                row.created_at,
            )
            writer.writerow([_cell(v) for v in cells])
        yield buffer.getvalue()

"""Leads: create, change, find, list and change many at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import Action, may_at_all, require
from inboxcrm.addresses import company_domain, normalize_email, unicode_domain
from inboxcrm.errors import Conflict, Forbidden, Invalid, NotFound
from inboxcrm.events import EventType, emit
from inboxcrm.leads.models import (
    Company,
    CompanyDomain,
    Lead,
    LeadEmail,
    Tag,
    Temperature,
    lead_tag,
)
from inboxcrm.leads.moves import move_lead
from inboxcrm.leads.schemas import DEAL_FIELDS, LABELS, MAX_TAG, LeadCreate, LeadUpdate
from inboxcrm.leads.serialize import lead_json
from inboxcrm.stages.models import ChangeSource, Stage
from inboxcrm.stages.service import entry_stage
from inboxcrm.tenancy import Scope

COUNT_LIMIT = 10_000  # past this the list says "10,000+": an exact count costs a full scan
NARROWED_COUNT_LIMIT = 1_000
MAX_PER_PAGE = 100
SORTS: dict[str, InstrumentedAttribute[Any]] = {
    "name": Lead.name,
    "score": Lead.score,
    "deal_value": Lead.deal_value,
    "last_contacted": Lead.last_contacted_at,
    "last_engaged": Lead.last_engaged_at,
    "created": Lead.created_at,
}
DEFAULT_SORT = "-last_contacted"
# The sorts whose first click shows the most first: the highest score, the latest date.
# The table's first click on these shows the most first (the hottest, the biggest deal).
HIGHEST_FIRST = frozenset({"score", "deal_value", "last_contacted", "last_engaged"})


@dataclass(frozen=True)
class LeadFilter:
    q: str = ""
    stage_id: int | None = None
    owner_id: int | None = None
    unowned: bool = False
    temperature: Temperature | None = None
    tag: str | None = None
    needs_review: bool = False  # only leads from mail no rep has touched yet
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        if self.sort.lstrip("-") not in SORTS:
            raise Invalid(
                f"unknown sort {self.sort!r}; use one of {', '.join(SORTS)}, '-' first to reverse"
            )
        if self.page < 1:
            raise Invalid("page must be 1 or more")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise Invalid(f"per_page must be between 1 and {MAX_PER_PAGE}")


@dataclass
class LeadPage:
    leads: list[Lead]
    total: int
    exact: bool
    filter: LeadFilter
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, -(-self.total // self.filter.per_page))


def _search_ids(session: Session, q: str) -> Select[Any] | None:
    """Rows whose name, addresses or company contain `q`, from the FTS5 trigram index on
    SQLite (three characters or more); None where a LIKE does the job (see `filtered`)."""
    needle = " ".join(q.lower().split())
    if session.get_bind().dialect.name != "sqlite" or len(needle) < 3:
        return None
    phrase = '"' + needle.replace('"', '""') + '"'  # a quoted phrase matches any substring
    return (
        select(text("rowid"))
        .select_from(text("lead_search"))
        .where(text("lead_search MATCH :phrase").bindparams(phrase=phrase))
    )


def filtered(
    scope: Scope, flt: LeadFilter, *, walk_sort_index: bool = False
) -> Select[tuple[Lead]]:
    """The leads a filter selects. Search and tag filters are id sets; `walk_sort_index`
    makes SQLite walk the sort index and probe the set, instead of sorting the whole set:
    the faster plan when the set is large."""
    member = (Lead.id + 0) if walk_sort_index else Lead.id  # `+ 0` keeps SQLite off the rowid
    query = scope.select(Lead)
    if flt.q.strip():
        ids = _search_ids(scope.session, flt.q)
        if ids is not None:
            query = query.where(member.in_(ids))
        else:
            needle = " ".join(flt.q.lower().split())
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            # On PostgreSQL the pg_trgm GIN index serves this LIKE; short SQLite needles scan.
            query = query.where(Lead.search_text.like(f"%{escaped}%", escape="\\"))
    if flt.stage_id is not None:
        query = query.where(Lead.stage_id == flt.stage_id)
    if flt.unowned:
        query = query.where(Lead.owner_id.is_(None))
    elif flt.owner_id is not None:
        query = query.where(Lead.owner_id == flt.owner_id)
    if flt.temperature is not None:
        query = query.where(Lead.temperature == flt.temperature)
    if flt.needs_review:
        query = query.where(Lead.needs_review.is_(True))
    if flt.tag:
        tag_ids = (
            scope.select(Tag)
            .with_only_columns(Tag.id)
            .where(func.lower(Tag.name) == flt.tag.strip().lower())
        )
        tagged = select(lead_tag.c.lead_id).where(lead_tag.c.tag_id.in_(tag_ids))
        query = query.where(member.in_(tagged))
    return query


def _count(scope: Scope, query: Select[tuple[Lead]], limit: int) -> int:
    capped = query.with_only_columns(Lead.id).order_by(None).limit(limit + 1).subquery()
    return scope.session.scalar(select(func.count()).select_from(capped)) or 0


def sort_order(sort: str) -> tuple[Any, Any]:
    """ORDER BY for a sort, leads without a value last either way, in an order an index
    has on both databases: SQLite and PostgreSQL walk (workspace, column, id) either way,
    which gives NULLs last ascending on PostgreSQL and descending on SQLite; PostgreSQL has
    a (workspace, column DESC NULLS LAST, id DESC) index for the nullable columns."""
    column = SORTS[sort.lstrip("-")]
    nullable = bool(column.property.columns[0].nullable)
    if sort.startswith("-"):
        first = column.desc().nulls_last() if nullable else column.desc()
        return first, Lead.id.desc()
    return (column.asc().nulls_last() if nullable else column.asc()), Lead.id.asc()


def _page_ids(scope: Scope, flt: LeadFilter, order: tuple[Any, Any], walk: bool) -> list[int]:
    return list(
        scope.session.scalars(
            filtered(scope, flt, walk_sort_index=walk)
            .with_only_columns(Lead.id)
            .order_by(*order)
            .limit(flt.per_page)
            .offset((flt.page - 1) * flt.per_page)
        )
    )


def list_leads(
    scope: Scope,
    flt: LeadFilter,
    *,
    last_if_past_end: bool = False,
    narrowed_limit: int = NARROWED_COUNT_LIMIT,
) -> LeadPage:
    """One page of the leads a filter selects: empty past the end, or with
    `last_if_past_end` (the leads table and the API) the last page instead, the page's
    `filter.page` saying which (page 1, empty, when nothing matches)."""
    # Search and tag filters count up to 1,000: past that "1,000+" says enough, and an
    # exact count would look up every match.
    narrowed = bool(flt.q.strip() or flt.tag)
    limit = narrowed_limit if narrowed else COUNT_LIMIT
    total = _count(scope, filtered(scope, flt), limit)
    last = max(1, -(-min(total, limit) // flt.per_page))
    if last_if_past_end and flt.page > last and total <= limit:
        flt = replace(flt, page=last)  # the count is exact: the last page is known
    order = sort_order(flt.sort)
    walk = narrowed and total > limit
    # Ids first, from the covering sort index; whole rows (with their joins) only for one page,
    # so deep pages skip index entries rather than joined rows.
    ids = _page_ids(scope, flt, order, walk)
    if last_if_past_end and not ids and flt.page > last:
        # Past a capped count and past the end: count them all (once, for a page that
        # does not exist) to find the last page.
        everything = _count(scope, filtered(scope, flt), 10**12)
        flt = replace(flt, page=max(1, -(-everything // flt.per_page)))
        ids = _page_ids(scope, flt, order, walk)
    rows = scope.session.scalars(
        select(Lead)
        .where(Lead.id.in_(ids))
        .options(selectinload(Lead.tags), selectinload(Lead.emails))
    ).unique()
    by_id = {lead.id: lead for lead in rows}
    return LeadPage(
        leads=[by_id[i] for i in ids],
        total=min(total, limit),
        exact=total <= limit,
        filter=flt,
    )


def find_lead_by_email(scope: Scope, email: str) -> Lead | None:
    row = scope.session.scalars(
        scope.select(LeadEmail, LeadEmail.email == normalize_email(email))
    ).first()
    return row.lead if row else None


def search_text(name: str, emails: Sequence[str], company: str) -> str:
    return " ".join(p for p in (name, *emails, company) if p).lower()


def refresh_search_text(lead: Lead) -> None:
    lead.search_text = search_text(
        lead.name, [e.email for e in lead.emails], lead.company.name if lead.company else ""
    )


class AddressTaken(Conflict):
    """An address that is another lead's: the message names that lead, pages link it."""

    def __init__(self, email: str, lead_id: int, lead_name: str) -> None:
        super().__init__(
            f"{email} already belongs to lead {lead_id}, {lead_name}",
            {"email": f"already belongs to another lead: {lead_name}"},
        )
        self.email, self.lead_id, self.lead_name = email, lead_id, lead_name


def company_name(domain: str) -> str:
    """`acme-robotics.co.uk` -> `Acme Robotics`, `xn--bcher-kva.de` -> `Bücher`: a start
    a rep can rename."""
    label = unicode_domain(domain.split(".", 1)[0])
    return " ".join(w[:1].upper() + w[1:] for w in label.replace("_", "-").split("-") if w)[:200]


def _company(scope: Scope, name: str | None, email: str, make: bool = False) -> Company | None:
    """The named company (found by name, else created), or the one owning the address's
    domain: made, named from the domain, when `make` says a new domain gets one."""
    domain = company_domain(email)
    if name:
        company = scope.session.scalars(
            scope.select(Company, func.lower(Company.name) == name.lower()).limit(1)
        ).first()
        if company is None:
            company = Company(workspace_id=scope.workspace_id, name=name)
            scope.session.add(company)
            claimed = domain and scope.session.scalar(
                scope.select(CompanyDomain, CompanyDomain.domain == domain).with_only_columns(
                    CompanyDomain.id
                )
            )
            if domain and not claimed:
                company.domains.append(
                    CompanyDomain(workspace_id=scope.workspace_id, domain=domain)
                )
        return company
    if domain is None:
        return None
    owned = scope.session.scalars(
        scope.select(CompanyDomain, CompanyDomain.domain == domain)
    ).first()
    if owned is not None:
        return owned.company
    if not make:
        return None
    company = Company(workspace_id=scope.workspace_id, name=company_name(domain))
    company.domains.append(CompanyDomain(workspace_id=scope.workspace_id, domain=domain))
    scope.session.add(company)
    return company


def _tags(scope: Scope, names: Sequence[str]) -> list[Tag]:
    if not names:
        return []
    lowered = {n.lower(): n for n in names}
    existing = {
        t.name.lower(): t
        for t in scope.session.scalars(scope.select(Tag, func.lower(Tag.name).in_(lowered)))
    }
    for key, name in lowered.items():
        if key not in existing:
            existing[key] = Tag(workspace_id=scope.workspace_id, name=name)
            scope.session.add(existing[key])
    return [existing[key] for key in lowered]


def _set_emails(scope: Scope, lead: Lead, primary: str, others: Sequence[str]) -> None:
    wanted = list(dict.fromkeys([normalize_email(primary), *(normalize_email(e) for e in others)]))
    taken = scope.session.scalars(
        scope.select(LeadEmail, LeadEmail.email.in_(wanted), LeadEmail.lead_id != lead.id)
        if lead.id
        else scope.select(LeadEmail, LeadEmail.email.in_(wanted))
    ).first()
    if taken is not None:
        other = scope.session.get_one(Lead, taken.lead_id)
        raise AddressTaken(taken.email, other.id, other.name or other.email)
    current = {e.email: e for e in lead.emails}
    lead.emails = [
        current.get(a) or LeadEmail(workspace_id=scope.workspace_id, email=a) for a in wanted
    ]
    lead.email = wanted[0]


def _field_actions(field: str) -> tuple[Action, ...]:
    """The actions that changing `field` may be: an owner is taken or handed over."""
    if field == "owner_id":
        return (Action.take, Action.hand_over)
    if field == "stage_id":
        return (Action.move,)
    if field in DEAL_FIELDS:
        return (Action.edit_deal,)
    return (Action.edit,)


def _check_allowed(actor: Member, changes: LeadUpdate) -> None:
    """Fields this role changes on no lead at all are refused by name, whoever's lead."""
    refused = sorted(
        name
        for name in changes.model_fields_set
        if not any(may_at_all(actor, action) for action in _field_actions(name))
    )
    if refused:
        words = ", ".join(LABELS.get(name, name).lower() for name in refused)
        raise Forbidden(f"{actor.role.value}s cannot change a lead's {words}")


def _check_lead(actor: Member, lead: Lead, changes: LeadUpdate) -> None:
    """The changes sent, held to the permission table for this lead and its owner; before
    anything changes, so a refused update changes nothing. Sending what is already there
    (the same stage, the same owner) is no change and needs no permission."""
    sent = changes.model_fields_set
    name = lead.name or lead.email or "this lead"
    if sent - DEAL_FIELDS - {"owner_id", "stage_id"}:
        require(actor, Action.edit, lead.owner_id, name)
    if sent & DEAL_FIELDS:
        require(actor, Action.edit_deal, lead.owner_id, name)
    if "stage_id" in sent and changes.stage_id not in (None, lead.stage_id):
        require(actor, Action.move, lead.owner_id, name)
    if "owner_id" in sent and changes.owner_id != lead.owner_id:
        taking = changes.owner_id == actor.id
        require(actor, Action.take if taking else Action.hand_over, lead.owner_id, name)


PLAIN_FIELDS = ("title", "phone", "timezone", "deal_value", "lost_reason", "budget", "authority",
                "need", "timeline", "next_step")  # fmt: skip


def _apply(scope: Scope, lead: Lead, changes: LeadUpdate, actor: Member, now: dt.datetime) -> None:
    """Apply the fields a client sent, and only those."""
    sent = changes.model_fields_set
    for name in PLAIN_FIELDS:
        if name in sent:
            value = getattr(changes, name)
            setattr(lead, name, None if value == "" else value)
    if "name" in sent:
        lead.name = changes.name or ""
    if "currency" in sent:
        lead.currency = changes.currency or "USD"
    if "source" in sent:
        lead.source = changes.source or "manual"
    if "email" in sent or "other_emails" in sent:
        others = changes.other_emails
        if others is None:
            others = [e.email for e in lead.emails if e.email != lead.email]
        _set_emails(scope, lead, changes.email or lead.email, others)
    if "company" in sent:
        lead.company = _company(scope, changes.company, lead.email)
    if "owner_id" in sent:
        owner = scope.find(Member, changes.owner_id) if changes.owner_id is not None else None
        if changes.owner_id is not None and (owner is None or not owner.active):
            raise Invalid(
                f"no member {changes.owner_id} in this workspace", {"owner_id": "unknown"}
            )
        lead.owner_id = changes.owner_id
    if "tags" in sent:
        lead.tags = _tags(scope, changes.tags or [])
    if "stage_id" in sent and changes.stage_id is not None:
        stage = scope.find(Stage, changes.stage_id)
        if stage is None:
            raise Invalid(f"no stage {changes.stage_id} in this workspace", {"stage_id": "unknown"})
        move_lead(scope, lead, stage, source=ChangeSource.member, now=now, member_id=actor.id)
    lead.updated_at = now
    lead.needs_review = False  # a rep has worked on it: no longer "new from mail"
    refresh_search_text(lead)


def create_lead(scope: Scope, data: LeadCreate, actor: Member, now: dt.datetime) -> Lead:
    """A new lead in the entry stage, owned by its creator unless an owner is given."""
    _check_allowed(actor, data)
    stage = entry_stage(scope)
    lead = Lead(workspace_id=scope.workspace_id, stage=stage, owner_id=actor.id, created_at=now)
    _set_emails(scope, lead, data.email, data.other_emails or [])  # before add: no autoflush
    scope.session.add(lead)
    scope.session.flush()  # a stage change names the lead: it needs an id first
    _check_lead(actor, lead, data)  # a new lead is its creator's own
    _apply(scope, lead, data, actor, now)
    if "company" not in data.model_fields_set:  # a new company domain gets its company
        lead.company = _company(scope, None, lead.email, make=True)
        refresh_search_text(lead)
    scope.session.flush()
    emit(scope.session, scope.workspace_id, EventType.lead_created, now, lead_json(lead), lead.id)
    return lead


def update_lead(
    scope: Scope, lead: Lead, data: LeadUpdate, actor: Member, now: dt.datetime
) -> Lead:
    _check_allowed(actor, data)
    _check_lead(actor, lead, data)
    _apply(scope, lead, data, actor, now)
    if data.model_fields_set & FIT_FIELDS:  # who the lead is changed: its fit, rescored
        lead.rescore_at = now
    scope.session.flush()
    changed = sorted(data.model_fields_set)
    emit(scope.session, scope.workspace_id, EventType.lead_updated, now,
         {"lead": lead_json(lead), "fields": changed}, lead.id)  # fmt: skip
    return lead


# The fields the score's fit rules read (scoring/rescore.py): a change queues a rescore.
FIT_FIELDS = frozenset({"title", "budget", "authority", "need", "timeline", "company"})


@dataclass(frozen=True)
class BulkChange:
    owner_id: int | None = None
    unassign: bool = False
    stage_id: int | None = None
    add_tag: str | None = None
    remove_tag: str | None = None


def selected_leads(scope: Scope, lead_ids: Sequence[int]) -> list[Lead]:
    """The leads a bulk action names, in the order named (what it reports names them so,
    whatever order the database found them in): every one of them, or an error (another
    workspace's id is not found, like a missing one)."""
    order = {lead_id: n for n, lead_id in enumerate(dict.fromkeys(lead_ids))}
    if not order:
        raise Invalid("select at least one lead")
    leads = list(scope.session.scalars(scope.select(Lead, Lead.id.in_(list(order)))).unique())
    if len(leads) != len(order):
        missing = sorted(set(order) - {lead.id for lead in leads})
        raise NotFound(f"leads not found: {', '.join(map(str, missing[:10]))}")
    return sorted(leads, key=lambda lead: order[lead.id])


def _tag_name(raw: str | None, what: str) -> str | None:
    tag = " ".join((raw or "").split())
    if len(tag) > MAX_TAG:
        shown = tag if len(tag) <= 200 else tag[:200] + "…"
        raise Invalid(
            f"a tag has at most {MAX_TAG} characters; the tag to {what} has {len(tag)}: {shown}",
            {f"{what}_tag": "too long"},
        )
    return tag or None


def bulk_update(
    scope: Scope, lead_ids: Sequence[int], change: BulkChange, actor: Member, now: dt.datetime
) -> int:
    """Apply one change to many leads; all of them or, on any error, none. Each lead is
    held to the permission table as if changed alone."""
    leads = selected_leads(scope, lead_ids)
    add_tag, remove_tag = _tag_name(change.add_tag, "add"), _tag_name(change.remove_tag, "remove")
    fields: dict[str, object] = {}
    if change.unassign:
        fields["owner_id"] = None
    elif change.owner_id is not None:
        fields["owner_id"] = change.owner_id
    if change.stage_id is not None:
        fields["stage_id"] = change.stage_id
    if not fields and not add_tag and not remove_tag:
        raise Invalid("choose an owner, a stage or a tag to apply")
    updates: list[tuple[Lead, LeadUpdate]] = []
    for lead in leads:
        changed = dict(fields)
        if add_tag or remove_tag:
            tags = [t.name for t in lead.tags]
            if add_tag:
                tags.append(add_tag)
            if remove_tag:
                tags = [t for t in tags if t.lower() != remove_tag.lower()]
            changed["tags"] = tags
        update = LeadUpdate.model_validate(changed)
        _check_allowed(actor, update)
        _check_lead(actor, lead, update)  # every lead first: a refusal changes none
        updates.append((lead, update))
    for lead, update in updates:
        update_lead(scope, lead, update, actor, now)
    return len(leads)

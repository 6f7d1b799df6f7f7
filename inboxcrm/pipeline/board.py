"""The board: the pipeline as columns of lead cards, and moving a card between them.

A column's figures come from the running tally (`pipeline.tally`) when the board is
filtered by owner alone, else from one grouped query over the leads the filter selects,
read from an index that holds them; its cards are a keyset page (newest lead first), so
the board costs about the same at 10 or 100,000 leads. A folded column (a closing stage)
shows its figures only: its cards are fetched when it is opened.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CompoundSelect, Select, func, select, union_all

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import Action, require, require_some
from inboxcrm.errors import Invalid
from inboxcrm.leads.models import Activity, Company, Lead
from inboxcrm.leads.moves import move_lead
from inboxcrm.leads.service import LeadFilter, filtered
from inboxcrm.pipeline.tally import Figures, tallied
from inboxcrm.stages.models import ChangeSource, Stage, StageChange, StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope

CARDS_PER_COLUMN = 25
STALE_AFTER_DAYS = 14
MAX_LOST_REASON = 300


@dataclass(frozen=True)
class Card:
    """What a card shows, read as plain rows: a board holds hundreds of them."""

    id: int
    name: str
    email: str
    company: str | None
    deal_value: decimal.Decimal | None
    currency: str
    owner: str | None
    owner_id: int | None
    stage_id: int
    entered_at: dt.datetime
    days_in_stage: int
    stale: bool
    lost_reason: str | None = None


@dataclass
class Column:
    stage: Stage
    count: int = 0
    # Deal values in different currencies are never added together.
    totals: dict[str, decimal.Decimal] = field(default_factory=dict)
    cards: list[Card] = field(default_factory=list)
    # The keyset to ask for the next cards with (`after`), None when all are shown.
    more_after: int | None = None
    # A closing stage starts folded: its cards are not read until it is opened.
    folded: bool = False


def _board_filter(flt: LeadFilter) -> LeadFilter:
    """The board's columns are its stage filter: a stage in the filter is ignored."""
    return LeadFilter(
        q=flt.q,
        owner_id=flt.owner_id,
        unowned=flt.unowned,
        temperature=flt.temperature,
        tag=flt.tag,
    )


def _walk(scope: Scope, flt: LeadFilter) -> bool:
    """Whether to walk one owner's (or the unowned) leads in their index and probe a tag's
    or a search's set: fewer steps on SQLite than looking the set's leads up one by one.
    PostgreSQL hashes the set either way, and loses its plan to the walk's `id + 0`."""
    owned = flt.owner_id is not None or flt.unowned
    return owned and scope.session.get_bind().dialect.name == "sqlite"


def column_figures(scope: Scope, flt: LeadFilter) -> Figures:
    """Per stage id: how many leads and their total deal value per currency, in one query:
    of the tally when it keeps the filter, else of the leads."""
    flt = _board_filter(flt)
    kept = tallied(scope, flt)
    if kept is not None:
        return kept
    query = (
        filtered(scope, flt, walk_sort_index=_walk(scope, flt))
        .with_only_columns(
            Lead.stage_id, Lead.currency, func.count(Lead.id), func.sum(Lead.deal_value)
        )
        .group_by(Lead.stage_id, Lead.currency)
        .order_by(None)
    )
    figures: Figures = {}
    for stage_id, currency, count, total in scope.session.execute(query):
        seen, totals = figures.get(stage_id, (0, {}))
        if total is not None:
            totals[currency] = totals.get(currency, decimal.Decimal(0)) + decimal.Decimal(total)
        figures[stage_id] = (seen + count, totals)
    return figures


def _cards(
    scope: Scope,
    picked: Select[Any] | CompoundSelect[Any],
    now: dt.datetime,
    stages: list[Stage] | None = None,
) -> dict[int, Card]:
    """The cards of the leads `picked` selects (by `id`), in one query: the leads with
    company and owner names, each one's latest stage change for days in stage, or, for a
    lead that never moved, its first mail: a lead captured from a 70-day-old thread has
    been in its stage since that thread began, not since the sync found it. `stages` are
    the workspace's, when the caller has them already."""
    page = picked.subquery()
    moved = select(func.max(StageChange.changed_at)).where(StageChange.lead_id == Lead.id)
    mailed = select(func.min(Activity.occurred_at)).where(Activity.lead_id == Lead.id)
    rows = scope.session.execute(
        select(
            Lead.id,
            Lead.name,
            Lead.email,
            Company.name,
            Lead.deal_value,
            Lead.currency,
            func.coalesce(func.nullif(Member.name, ""), Member.email),
            Lead.owner_id,
            Lead.stage_id,
            Lead.created_at,
            Lead.lost_reason,
            moved.scalar_subquery(),
            mailed.scalar_subquery(),
        )
        .join(page, page.c.id == Lead.id)
        .outerjoin(Company, Company.id == Lead.company_id)
        .outerjoin(Member, Member.id == Lead.owner_id)
        .where(Lead.workspace_id == scope.workspace_id)
    )
    kinds = {stage.id: stage.kind for stage in (list_stages(scope) if stages is None else stages)}
    cards = {}
    for (lead_id, name, email, company, value, currency, owner, owner_id, stage_id, created,
         lost_reason, latest, first_mail) in rows:  # fmt: skip
        # Never moved: in its first stage since its first mail, or since it was made.
        entered = latest or min(created, first_mail or created)
        days = max(0, (now - entered).days)
        stale = kinds.get(stage_id) is StageKind.open and days >= STALE_AFTER_DAYS
        cards[lead_id] = Card(
            lead_id, name, email, company, value, currency, owner, owner_id, stage_id, entered,
            days, stale, lost_reason,
        )  # fmt: skip
    return cards


def _page(
    scope: Scope, stage: Stage, flt: LeadFilter, after: int | None, limit: int
) -> Select[Any]:
    """A keyset page of one column's lead ids, newest first, one more than shown."""
    query = filtered(scope, _board_filter(flt)).where(Lead.stage_id == stage.id)
    if after is not None:
        query = query.where(Lead.id < after)
    return query.with_only_columns(Lead.id, Lead.stage_id).order_by(Lead.id.desc()).limit(limit + 1)


def column_cards(
    scope: Scope,
    stage: Stage,
    flt: LeadFilter,
    now: dt.datetime,
    *,
    after: int | None = None,
    limit: int = CARDS_PER_COLUMN,
) -> tuple[list[Card], int | None]:
    """The cards after `after` in one column (the "More" button), and the next keyset."""
    cards = _cards(scope, _page(scope, stage, flt, after, limit), now)
    ids = sorted(cards, reverse=True)
    more = ids[limit - 1] if len(ids) > limit else None
    return [cards[i] for i in ids[:limit]], more


def board(scope: Scope, flt: LeadFilter, now: dt.datetime) -> list[Column]:
    """Three queries whatever the size: the figures, the stages, and the cards of the open
    columns' first pages (`first_pages`) with their days in stage."""
    figures = column_figures(scope, flt)
    stages = list_stages(scope)
    columns = [
        Column(stage, *figures.get(stage.id, (0, {})), folded=stage.kind is not StageKind.open)
        for stage in stages
    ]
    shown = [column.stage for column in columns if column.count and not column.folded]
    if not shown:
        return columns
    cards = _cards(scope, first_pages(scope, shown, flt), now, stages)
    ids: dict[int, list[int]] = {}
    for card in cards.values():
        ids.setdefault(card.stage_id, []).append(card.id)
    for column in columns:
        page = sorted(ids.get(column.stage.id, []), reverse=True)
        column.cards = [cards[i] for i in page[:CARDS_PER_COLUMN]]
        column.more_after = page[CARDS_PER_COLUMN - 1] if len(page) > CARDS_PER_COLUMN else None
    return columns


def first_pages(
    scope: Scope, stages: list[Stage], flt: LeadFilter
) -> Select[Any] | CompoundSelect[Any]:
    """(id, stage id) of each column's first page, one more than shown. A keyset page a
    column (one UNION ALL), each walking its stage's index; with a search or tag filter,
    whose leads are a set to probe, one pass over the set ranked by stage instead: a
    page per column would probe the whole set once per column."""
    if not (flt.q.strip() or flt.tag):
        pages = [_page(scope, stage, flt, None, CARDS_PER_COLUMN).subquery() for stage in stages]
        return union_all(*(select(page.c.id, page.c.stage_id) for page in pages))
    rank = func.row_number().over(partition_by=Lead.stage_id, order_by=Lead.id.desc())
    ranked = (
        filtered(scope, _board_filter(flt), walk_sort_index=_walk(scope, flt))
        .where(Lead.stage_id.in_([stage.id for stage in stages]))
        .with_only_columns(Lead.id, Lead.stage_id, rank.label("rank"))
        .subquery()
    )
    return select(ranked.c.id, ranked.c.stage_id).where(ranked.c.rank <= CARDS_PER_COLUMN + 1)


def move_card(
    scope: Scope,
    lead_id: int,
    stage_id: int,
    actor: Member,
    now: dt.datetime,
    *,
    lost_reason: str = "",
) -> StageChange | None:
    """Move a lead to a stage from the board; a lost stage needs the reason it was lost.
    Who may move which lead is `Action.move` (a lost reason is the deal's too)."""
    require_some(actor, Action.move)
    lead = scope.get(Lead, lead_id)
    stage = scope.find(Stage, stage_id)
    if stage is None:
        raise Invalid(f"no stage {stage_id} in this workspace", {"stage_id": "unknown"})
    name = lead.name or lead.email
    if stage.id != lead.stage_id:  # where it is already: nothing moves
        require(actor, Action.move, lead.owner_id, name)
    if stage.kind is StageKind.lost:
        require(actor, Action.edit_deal, lead.owner_id, name)
    reason = " ".join(lost_reason.split())
    if stage.kind is StageKind.lost:
        if not reason:
            raise Invalid(
                f"say why the deal was lost to move it to {stage.name}",
                {"lost_reason": "required"},
            )
        if len(reason) > MAX_LOST_REASON:
            raise Invalid(
                f"the lost reason is too long (at most {MAX_LOST_REASON} characters)",
                {"lost_reason": "too long"},
            )
    change = move_lead(scope, lead, stage, source=ChangeSource.member, now=now, member_id=actor.id)
    if stage.kind is StageKind.lost:
        lead.lost_reason = reason
    lead.updated_at = now
    scope.session.flush()
    return change

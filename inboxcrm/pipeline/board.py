"""The board: the pipeline as columns of lead cards, and moving a card between them.

A column's figures come from one grouped query over all its leads; its cards are a
keyset page (newest lead first), so the board costs the same at 10 or 10,000 leads.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field

from sqlalchemy import func, select

from inboxcrm.accounts.models import Member, Role
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.leads.models import Lead
from inboxcrm.leads.service import LeadFilter, filtered
from inboxcrm.pipeline.models import ChangeSource, Stage, StageChange, StageKind
from inboxcrm.pipeline.service import list_stages, move_lead
from inboxcrm.tenancy import Scope

CARDS_PER_COLUMN = 25
STALE_AFTER_DAYS = 14
MAX_LOST_REASON = 300


@dataclass(frozen=True)
class Card:
    lead: Lead
    entered_at: dt.datetime
    days_in_stage: int
    stale: bool


@dataclass
class Column:
    stage: Stage
    count: int = 0
    # Deal values in different currencies are never added together.
    totals: dict[str, decimal.Decimal] = field(default_factory=dict)
    cards: list[Card] = field(default_factory=list)
    # The keyset to ask for the next cards with (`after`), None when all are shown.
    more_after: int | None = None


def _board_filter(flt: LeadFilter) -> LeadFilter:
    """The board's columns are its stage filter: a stage in the filter is ignored."""
    return LeadFilter(
        q=flt.q,
        owner_id=flt.owner_id,
        unowned=flt.unowned,
        temperature=flt.temperature,
        tag=flt.tag,
    )


def column_figures(
    scope: Scope, flt: LeadFilter
) -> dict[int, tuple[int, dict[str, decimal.Decimal]]]:
    """Per stage id: how many leads and their total deal value per currency, in one query."""
    query = (
        filtered(scope, _board_filter(flt))
        .with_only_columns(
            Lead.stage_id, Lead.currency, func.count(Lead.id), func.sum(Lead.deal_value)
        )
        .group_by(Lead.stage_id, Lead.currency)
        .order_by(None)
    )
    figures: dict[int, tuple[int, dict[str, decimal.Decimal]]] = {}
    for stage_id, currency, count, total in scope.session.execute(query):
        seen, totals = figures.get(stage_id, (0, {}))
        if total is not None:
            totals[currency] = totals.get(currency, decimal.Decimal(0)) + decimal.Decimal(total)
        figures[stage_id] = (seen + count, totals)
    return figures


def _cards(scope: Scope, leads: list[Lead], now: dt.datetime) -> list[Card]:
    """Days in stage from each lead's latest stage change (its creation if it never moved),
    for all the cards in one grouped query."""
    if not leads:
        return []
    latest: dict[int, dt.datetime] = {
        lead_id: at
        for lead_id, at in scope.session.execute(
            select(StageChange.lead_id, func.max(StageChange.changed_at))
            .where(
                StageChange.workspace_id == scope.workspace_id,
                StageChange.lead_id.in_([lead.id for lead in leads]),
            )
            .group_by(StageChange.lead_id)
        ).all()
    }
    cards = []
    for lead in leads:
        entered = latest.get(lead.id) or lead.created_at
        days = max(0, (now - entered).days)
        stale = lead.stage.kind is StageKind.open and days >= STALE_AFTER_DAYS
        cards.append(Card(lead=lead, entered_at=entered, days_in_stage=days, stale=stale))
    return cards


def column_cards(
    scope: Scope,
    stage: Stage,
    flt: LeadFilter,
    now: dt.datetime,
    *,
    after: int | None = None,
    limit: int = CARDS_PER_COLUMN,
) -> tuple[list[Card], int | None]:
    """One page of a column's cards, newest lead first, and the keyset of the next page."""
    query = filtered(scope, _board_filter(flt)).where(Lead.stage_id == stage.id)
    if after is not None:
        query = query.where(Lead.id < after)
    leads = list(scope.session.scalars(query.order_by(Lead.id.desc()).limit(limit + 1)).unique())
    more = leads[limit - 1].id if len(leads) > limit else None
    return _cards(scope, leads[:limit], now), more


def board(scope: Scope, flt: LeadFilter, now: dt.datetime) -> list[Column]:
    figures = column_figures(scope, flt)
    columns = []
    for stage in list_stages(scope):
        count, totals = figures.get(stage.id, (0, {}))
        column = Column(stage=stage, count=count, totals=totals)
        if count:
            column.cards, column.more_after = column_cards(scope, stage, flt, now)
        columns.append(column)
    return columns


def move_card(
    scope: Scope,
    lead_id: int,
    stage_id: int,
    actor: Member,
    now: dt.datetime,
    *,
    lost_reason: str = "",
) -> StageChange | None:
    """Move a lead to a stage from the board; a lost stage needs the reason it was lost."""
    if actor.role is Role.marketer:
        raise Forbidden("marketers cannot move leads between stages")
    lead = scope.get(Lead, lead_id)
    stage = scope.find(Stage, stage_id)
    if stage is None:
        raise Invalid(f"no stage {stage_id} in this workspace", {"stage_id": "unknown"})
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

"""A parsed filter compiled to one SQL query (SQLAlchemy Core) over the workspace's leads.

The same statement runs on SQLite and PostgreSQL: lead and company columns are plain
comparisons, tags, domains and activities are EXISTS subqueries correlated on the lead
(no N+1, and each can use its index), and every condition is two-valued (`col IS NOT
NULL AND ...`), so `not` selects exactly the other leads. "In segment S" is one CTE per
segment, however often it is referred to: compiled once, never copied into every place.
An activity narrowed to a campaign or sequence (`of`) is the set of leads the source's Sends
reached, found from those Sends (by the unique (workspace, source) index, then the
activities by `send_id`): an IN over a set computed once, not a probe per lead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from inboxcrm.leads.models import (
    Activity,
    ActivityKind,
    Company,
    CompanyDomain,
    Lead,
    Tag,
    lead_tag,
)
from inboxcrm.outbox.models import Send, SendState
from inboxcrm.segments.filters import (
    Condition,
    FilterProblem,
    Group,
    Node,
    Not,
    Of,
    find_cycle,
    segment_refs,
)
from inboxcrm.stages.models import Stage

_TEXT_COLUMNS: dict[str, Any] = {
    "name": Lead.name,
    "email": Lead.email,
    "search": Lead.search_text,
    "title": Lead.title,
    "timezone": Lead.timezone,
    "source": Lead.source,
    "budget": Lead.budget,
    "authority": Lead.authority,
    "need": Lead.need,
    "timeline": Lead.timeline,
}
_COMPANY_COLUMNS: dict[str, Any] = {
    "company.name": Company.name,
    "company.industry": Company.industry,
    "company.size": Company.size,
}
_NUMBER_COLUMNS: dict[str, Any] = {"deal_value": Lead.deal_value, "score": Lead.score}
_REF_COLUMNS: dict[str, Any] = {"stage": Lead.stage_id, "owner": Lead.owner_id}
_NEGATIONS = {
    "is_not": "is",
    "not_contains": "contains",
    "ne": "eq",
    "not_in": "in",
    "has_not": "has",
    "never": "ever",
    "not_within_days": "within_days",
    "is_false": "is_true",
    "is_empty": "is_set",
}


class Compiler:
    """Compiles filters of one workspace, `now` fixed for "in the last N days"; `segments`
    holds the parsed filters of the segments they may refer to (`refs_closure` finds them),
    `sources` each `of` they name as a criterion over Send (`sources.resolve`)."""

    def __init__(
        self,
        workspace_id: int,
        now: dt.datetime,
        segments: Mapping[int, Node] | None = None,
        sources: Mapping[Of, ColumnElement[bool]] | None = None,
    ) -> None:
        self.workspace_id = workspace_id
        self.now = now
        self.segments = dict(segments or {})
        self.sources = dict(sources or {})
        self._ctes: dict[int, CTE] = {}
        self._compiling: list[int] = []

    def leads(self, node: Node) -> Select[tuple[int]]:
        """SELECT lead.id of the workspace's leads the filter selects."""
        return select(Lead.id).where(Lead.workspace_id == self.workspace_id, self.where(node))

    def where(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, Not):
            return not_(self.where(node.item))
        if isinstance(node, Group):
            # Cheap tests first: SQLite evaluates the terms in order and stops at the first
            # that settles AND or OR, so a lead's column often spares it the EXISTS probes.
            items = sorted(node.items, key=_cost)
            parts = [self.where(item) for item in items]
            if not parts:  # an empty group: everyone (and), or no one (or)
                return true() if node.op == "and" else false()
            return and_(*parts) if node.op == "and" else or_(*parts)
        return self.condition(node)

    def condition(self, c: Condition) -> ColumnElement[bool]:
        positive = _NEGATIONS.get(c.op)
        if positive is not None:
            return not_(self.condition(_as(c, positive)))
        if c.field in _TEXT_COLUMNS:
            return _text(_TEXT_COLUMNS[c.field], c.op, c.value)
        if c.field in _COMPANY_COLUMNS:
            return self._company(_text(_COMPANY_COLUMNS[c.field], c.op, c.value))
        if c.field == "company.domain":
            return self._company(
                exists().where(
                    CompanyDomain.company_id == Company.id,
                    _text(CompanyDomain.domain, c.op, c.value),
                )
            )
        if c.field in _NUMBER_COLUMNS:
            return _number(_NUMBER_COLUMNS[c.field], c.op, c.value)
        if c.field in _REF_COLUMNS:
            column = _REF_COLUMNS[c.field]
            if c.op == "is_set":
                return cast(ColumnElement[bool], column.is_not(None))
            values = c.value if isinstance(c.value, tuple) else (c.value,)
            return and_(column.is_not(None), column.in_(values))
        if c.field == "stage_kind":
            kinds = c.value if isinstance(c.value, tuple) else (c.value,)
            return Lead.stage_id.in_(
                select(Stage.id).where(
                    Stage.workspace_id == self.workspace_id, Stage.kind.in_(kinds)
                )
            )
        if c.field == "temperature":
            temps = c.value if isinstance(c.value, tuple) else (c.value,)
            return and_(Lead.temperature.is_not(None), Lead.temperature.in_(temps))
        if c.field == "tag":
            return exists().where(
                lead_tag.c.lead_id == Lead.id,
                lead_tag.c.tag_id == Tag.id,
                Tag.workspace_id == self.workspace_id,
                func.lower(Tag.name) == c.value.lower(),
            )
        if c.field == "needs_review":
            return Lead.needs_review.is_(True)
        if c.field == "created":
            return _date(Lead.created_at, c.op, c.value, self.now)
        if c.field == "activity":
            return self._activity(c)
        if c.field == "segment":
            return Lead.id.in_(select(self._segment(c.value, c.where).c.id))
        raise AssertionError(c.field)

    def _company(self, criterion: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(Company.id == Lead.company_id, criterion)

    def _activity(self, c: Condition) -> ColumnElement[bool]:
        if c.of:
            return self._sourced(c)
        # Served by the (lead_id, kind, occurred_at) index: one probe per lead.
        criteria: list[ColumnElement[bool]] = [Activity.lead_id == Lead.id, Activity.kind == c.kind]
        if c.op == "within_days":
            criteria.append(Activity.occurred_at >= self.now - dt.timedelta(days=c.value))
        return exists().where(*criteria)

    def _sourced(self, c: Condition) -> ColumnElement[bool]:
        """The leads a campaign's or sequence's email reached this way: received (its Send
        sent), or opened, clicked in or replied to (an activity naming the Send)."""
        sends = self.sources.get(c.of)
        if sends is None:
            raise FilterProblem(c.where, "the campaign or sequence of this activity is unknown")
        mine = and_(Send.workspace_id == self.workspace_id, sends)
        line = self.now - dt.timedelta(days=c.value) if c.op == "within_days" else None
        criteria: list[ColumnElement[bool]]
        if c.kind == ActivityKind.message_out:
            criteria = [mine, Send.state == SendState.sent, Send.lead_id.is_not(None)]
            if line is not None:
                criteria.append(Send.sent_at >= line)
            return Lead.id.in_(select(Send.lead_id).where(*criteria))
        criteria = [
            Activity.workspace_id == self.workspace_id,
            Activity.kind == c.kind,
            Activity.send_id.in_(select(Send.id).where(mine)),
        ]
        if line is not None:
            criteria.append(Activity.occurred_at >= line)
        return Lead.id.in_(select(Activity.lead_id).where(*criteria))

    def _segment(self, segment_id: int, where: str) -> CTE:
        found = self._ctes.get(segment_id)
        if found is not None:
            return found
        if segment_id in self._compiling:
            raise FilterProblem(where, f"segment {segment_id} refers to itself")
        node = self.segments.get(segment_id)
        if node is None:
            raise FilterProblem(where, f"there is no segment {segment_id}")
        self._compiling.append(segment_id)
        try:
            inner = select(Lead.id).where(Lead.workspace_id == self.workspace_id, self.where(node))
        finally:
            self._compiling.pop()
        cte = inner.cte(f"segment_{segment_id}")
        self._ctes[segment_id] = cte
        return cte


def _cost(node: Node) -> int:
    """How dear a node is to test for one lead: a column, a lookup, a probe, a subtree."""
    if isinstance(node, Not):
        return _cost(node.item)
    if isinstance(node, Group):
        return 3 + max((_cost(item) for item in node.items), default=0)
    if node.field in ("activity", "segment"):
        return 2
    if node.field in ("tag", "company.domain") or node.field in _COMPANY_COLUMNS:
        return 1
    return 0


def _as(c: Condition, op: str) -> Condition:
    return Condition(c.field, op, c.value, c.kind, c.of, c.where)


def _text(column: Any, op: str, value: str | None) -> ColumnElement[bool]:
    if op == "is_set":
        return and_(column.is_not(None), column != "")
    present = column.is_not(None)
    lowered = func.lower(column)
    if op == "is":
        return and_(present, lowered == value.lower() if value else false())
    if op == "contains":
        return and_(present, lowered.like(f"%{_escape(value)}%", escape="\\"))
    if op == "starts_with":
        return and_(present, lowered.like(f"{_escape(value)}%", escape="\\"))
    raise AssertionError(op)


def _escape(value: str | None) -> str:
    text = (value or "").lower()
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _number(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "is_set":
        return cast(ColumnElement[bool], column.is_not(None))
    if not column.nullable:  # the score: never NULL, no guard
        return cast(ColumnElement[bool], _compare(column, op, value))
    return and_(column.is_not(None), _compare(column, op, value))


def _compare(column: Any, op: str, value: Any) -> Any:
    return {
        "eq": column == value,
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }[op]


def _date(column: Any, op: str, value: Any, now: dt.datetime) -> ColumnElement[bool]:
    if op in ("before", "after"):
        day = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
        if op == "before":
            return and_(column.is_not(None), column < day)
        return and_(column.is_not(None), column >= day + dt.timedelta(days=1))
    line = now - dt.timedelta(days=value)
    if op == "within_days":
        return and_(column.is_not(None), column >= line)
    return and_(column.is_not(None), column < line)  # older_than_days


def refs_closure(start: Node, load: Callable[[set[int]], Mapping[int, Node]]) -> dict[int, Node]:
    """The parsed filters of every segment `start` refers to, directly or through others,
    loaded a level at a time by `load` (ids -> parsed filters, the missing ones left out)."""
    found: dict[int, Node] = {}
    wanted = segment_refs(start)
    while wanted:
        loaded = load(wanted)
        found.update(loaded)
        wanted = {ref for node in loaded.values() for ref in segment_refs(node)} - set(found)
        wanted -= set(loaded)
    return found


def check_no_cycle(segment_id: int | None, node: Node, others: Mapping[int, Node]) -> None:
    """FilterProblem if saving `node` as segment `segment_id` would make it refer to itself."""
    refs = {sid: segment_refs(n) for sid, n in others.items()}
    me = segment_id if segment_id is not None else 0
    refs[me] = segment_refs(node)
    cycle = find_cycle(me, refs)
    if cycle is not None:
        names = " -> ".join("this segment" if s == me else f"segment {s}" for s in cycle)
        raise FilterProblem("", f"a segment cannot include itself: {names}")

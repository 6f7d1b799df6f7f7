"""Segments: create, rename, change the filter, delete, count, list the leads, and say why
a lead is in or out. Services flush; callers commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select, text
from sqlalchemy.orm import selectinload

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import Managed, require_manager
from inboxcrm.errors import Conflict, Invalid
from inboxcrm.leads.models import Lead
from inboxcrm.segments.compile import Compiler, check_no_cycle, refs_closure
from inboxcrm.segments.filters import (
    FIELDS,
    Condition,
    FilterProblem,
    Group,
    Node,
    Not,
    Of,
    dump,
    parse,
    segment_refs,
    walk,
)
from inboxcrm.segments.models import Segment
from inboxcrm.segments.sources import VERBS, Source, resolve
from inboxcrm.tenancy import Scope, unique_name

MAX_NAME = 120
FIRST = 20  # the leads the builder shows as she edits


def checked(raw: Any) -> Node:
    """The parsed filter, or Invalid saying what is wrong and where (`fields.filter`)."""
    try:
        return parse(raw)
    except FilterProblem as exc:
        raise Invalid(f"the filter is not valid: {exc.message}", {"filter": exc.message}) from None


def _loader(scope: Scope) -> Any:
    def load(ids: set[int]) -> dict[int, Node]:
        rows = scope.session.scalars(scope.select(Segment, Segment.id.in_(ids)))
        return {row.id: parse(row.filter) for row in rows}

    return load


def compiler(scope: Scope, node: Node, now: dt.datetime) -> Compiler:
    """A compiler that knows every segment `node` refers to, directly or not, and every
    campaign and sequence they name; Invalid when one of those does not exist."""
    return _compiled(scope, node, now)[0]


def _compiled(scope: Scope, node: Node, now: dt.datetime) -> tuple[Compiler, dict[Of, Source]]:
    segments = refs_closure(node, _loader(scope))
    found = _sources(scope, node, segments)
    sends = {of: source.sends for of, source in found.items()}
    return Compiler(scope.workspace_id, now, segments, sends), found


def _sources(scope: Scope, node: Node, segments: Mapping[int, Node]) -> dict[Of, Source]:
    """The campaigns and sequences the filter names (or the segments it refers to)."""
    wanted: dict[Of, str] = {}
    for root in (node, *segments.values()):
        for n in walk(root):
            if isinstance(n, Condition) and n.of:
                wanted.setdefault(n.of, n.where or "filter")
    try:
        return resolve(scope.session, scope.workspace_id, wanted)
    except FilterProblem as exc:
        raise Invalid(f"the filter is not valid: {exc.message}", {"filter": exc.message}) from None


def _check_refs(scope: Scope, segment: Segment | None, node: Node) -> None:
    others = refs_closure(node, _loader(scope))
    missing = segment_refs(node) - set(others) - ({segment.id} if segment else set())
    if missing:
        raise Invalid(
            f"the filter refers to segment {min(missing)}, which does not exist",
            {"filter": "unknown segment"},
        )
    try:
        check_no_cycle(segment.id if segment else None, node, others)
    except FilterProblem as exc:
        raise Invalid(exc.message, {"filter": exc.message}) from None
    _sources(scope, node, others)  # the campaigns and sequences it names exist


def create_segment(scope: Scope, actor: Member, name: str, raw: Any) -> Segment:
    require_manager(actor, Managed.segments)
    node = checked(raw)
    _check_refs(scope, None, node)
    segment = Segment(
        workspace_id=scope.workspace_id,
        name=unique_name(scope, Segment, name, None, "segment", MAX_NAME),
        filter=dump(node),
        created_by_id=actor.id,
    )
    scope.session.add(segment)
    scope.session.flush()
    return segment


def update_segment(
    scope: Scope, actor: Member, segment: Segment, name: str | None = None, raw: Any = None
) -> Segment:
    """Rename and/or change the filter (None: left as it is)."""
    require_manager(actor, Managed.segments)
    if name is not None:
        segment.name = unique_name(scope, Segment, name, segment, "segment", MAX_NAME)
    if raw is not None:
        node = checked(raw)
        _check_refs(scope, segment, node)
        segment.filter = dump(node)
    scope.session.flush()
    return segment


def delete_segment(scope: Scope, actor: Member, segment: Segment) -> None:
    """Deleting a segment another refers to is refused: the other would stop working."""
    require_manager(actor, Managed.segments)
    users = [
        other.name
        for other in scope.session.scalars(scope.select(Segment, Segment.id != segment.id))
        if segment.id in segment_refs(parse(other.filter))
    ]
    if users:
        raise Conflict(f"{segment.name} is part of {', '.join(sorted(users))}: change those first")
    scope.session.delete(segment)
    scope.session.flush()


def segments_of(scope: Scope) -> list[Segment]:
    return list(scope.session.scalars(scope.select(Segment).order_by(func.lower(Segment.name))))


def _no_jit(scope: Scope) -> None:
    """PostgreSQL compiles a query with JIT when its estimated cost is high, and a segment's
    hashed EXISTS subplans estimate high: compiling took 360 ms of a 570 ms count of
    100,000 leads (benchmarks/campaigns.py). Off for this transaction, for these queries."""
    if scope.session.get_bind().dialect.name == "postgresql":
        scope.session.execute(text("SET LOCAL jit = off"))


def count(scope: Scope, node: Node, now: dt.datetime) -> int:
    _no_jit(scope)
    query = compiler(scope, node, now).leads(node).subquery()
    return scope.session.scalar(select(func.count()).select_from(query)) or 0


def first_leads(
    scope: Scope, node: Node, now: dt.datetime, limit: int = FIRST, offset: int = 0
) -> list[Lead]:
    """A page of the segment's leads, newest first, with what a list shows."""
    _no_jit(scope)
    ids = (
        compiler(scope, node, now).leads(node).order_by(Lead.id.desc()).limit(limit).offset(offset)
    )
    return list(
        scope.session.scalars(
            select(Lead)
            .where(Lead.id.in_(ids.scalar_subquery()))
            .order_by(Lead.id.desc())
            .options(selectinload(Lead.tags), selectinload(Lead.emails))
        ).unique()
    )


def counted_leads(
    scope: Scope, node: Node, now: dt.datetime, limit: int = FIRST, offset: int = 0
) -> tuple[int, list[Lead]]:
    """The count and a page of the leads (newest first), what the builder asks as she edits.

    A filter with several subqueries (activities, tags, companies, segments) is evaluated
    once: the page with the count as a window over the same rows. Counted apart, the page
    paid every subquery's hash again (PostgreSQL, 100,000 leads: the bounces' hash alone,
    25 ms). A filter of columns and at most one subquery is counted and paged apart: its
    count reads an index and its page stops at the first matches, where a window would
    sort every matching lead (10 -> 30 ms for "stage kind is open", benchmarks/campaigns.py)."""
    probes = sum(1 for n in walk(node) if isinstance(n, Condition) and n.field in _PROBED)
    if probes < 2:
        return count(scope, node, now), first_leads(scope, node, now, limit, offset)
    _no_jit(scope)
    matched = compiler(scope, node, now).leads(node).subquery()
    rows = scope.session.execute(
        select(matched.c.id, func.count().over())
        .order_by(matched.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if not rows:  # none, or a page past the end: the count alone says which
        return (count(scope, node, now) if offset else 0), []
    ids = [lead_id for lead_id, _total in rows]
    leads = {
        lead.id: lead
        for lead in scope.session.scalars(
            select(Lead)
            .where(Lead.id.in_(ids))
            .options(selectinload(Lead.tags), selectinload(Lead.emails))
        ).unique()
    }
    return rows[0][1], [leads[i] for i in ids if i in leads]


# Conditions compiled to a subquery (EXISTS or IN), which PostgreSQL hashes before a row.
_PROBED = frozenset(
    {"activity", "segment", "tag", "company.domain", "company.name", "company.industry",
     "company.size"}
)  # fmt: skip


def segment_leads(scope: Scope, node: Node, now: dt.datetime) -> Select[tuple[int]]:
    """SELECT lead.id of the filter's leads, for a caller to shape (an export's columns)."""
    _no_jit(scope)
    return compiler(scope, node, now).leads(node)


def lead_ids(scope: Scope, node: Node, now: dt.datetime, limit: int) -> list[int]:
    _no_jit(scope)
    query = compiler(scope, node, now).leads(node).order_by(Lead.id).limit(limit)
    return list(scope.session.scalars(query))


def counts(scope: Scope, segments: list[Segment], now: dt.datetime) -> dict[int, int | None]:
    """Each saved segment's count (None for one whose filter no longer compiles)."""
    out: dict[int, int | None] = {}
    for segment in segments:
        try:
            out[segment.id] = count(scope, parse(segment.filter), now)
        except (FilterProblem, Invalid):  # a campaign it named was deleted, say
            out[segment.id] = None
    return out


@dataclass(frozen=True)
class Verdict:
    """One node of the tree, for one lead: whether it held, and its place and words."""

    where: str
    depth: int
    text: str
    held: bool
    group: bool


def explain(scope: Scope, node: Node, lead: Lead, now: dt.datetime) -> tuple[bool, list[Verdict]]:
    """Whether `lead` is in the filter's leads, and each condition and group evaluated for
    it: one query, every node a column of it."""
    comp, sources = _compiled(scope, node, now)
    nodes = list(walk(node))
    columns = [comp.where(n).label(f"n{i}") for i, n in enumerate(nodes)]
    row = scope.session.execute(
        select(literal(1), *columns)
        .select_from(Lead)
        .where(Lead.workspace_id == scope.workspace_id, Lead.id == lead.id)
    ).one()
    held = [bool(v) for v in row[1:]]
    names = _names(scope, node)
    names.update({("of", of): source.text for of, source in sources.items()})
    depths = _depths(node)
    verdicts = [
        Verdict(
            n.where or "all", depths[id(n)], describe(n, names), h, not isinstance(n, Condition)
        )
        for n, h in zip(nodes, held, strict=True)
    ]
    return held[0], verdicts


def _depths(node: Node, depth: int = 0, out: dict[int, int] | None = None) -> dict[int, int]:
    out = {} if out is None else out
    out[id(node)] = depth
    if isinstance(node, Not):
        _depths(node.item, depth + 1, out)
    elif isinstance(node, Group):
        for item in node.items:
            _depths(item, depth + 1, out)
    return out


def _names(scope: Scope, node: Node) -> dict[tuple[str, Any], str]:
    """Names for the ids a filter holds (stages, owners, segments), for `describe`."""
    from inboxcrm.stages.models import Stage

    ids: dict[str, set[int]] = {"stage": set(), "owner": set(), "segment": set()}
    for n in walk(node):
        if isinstance(n, Condition) and n.field in ids and n.value is not None:
            ids[n.field].update(n.value if isinstance(n.value, tuple) else (n.value,))
    out: dict[tuple[str, Any], str] = {}
    if ids["stage"]:
        for stage in scope.session.scalars(scope.select(Stage, Stage.id.in_(ids["stage"]))):
            out[("stage", stage.id)] = stage.name
    if ids["owner"]:
        for owner in scope.session.scalars(scope.select(Member, Member.id.in_(ids["owner"]))):
            out[("owner", owner.id)] = owner.name or owner.email
    if ids["segment"]:
        for seg in scope.session.scalars(scope.select(Segment, Segment.id.in_(ids["segment"]))):
            out[("segment", seg.id)] = seg.name
    return out


_OPS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "is_empty": "is empty",
    "is_set": "is set",
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "before": "before",
    "after": "after",
    "within_days": "in the last",
    "older_than_days": "more than",
    "in": "is one of",
    "not_in": "is none of",
    "has": "includes",
    "has_not": "does not include",
    "is_true": "yes",
    "is_false": "no",
}


def describe(node: Node, names: Mapping[tuple[str, Any], str] | None = None) -> str:
    """A node in words: "Score ≥ 40", "a reply in the last 30 days", "any of 3"."""
    names = names or {}
    if isinstance(node, Not):
        return "not"
    if isinstance(node, Group):
        return ("all of" if node.op == "and" else "any of") + f" {len(node.items)}"
    label = FIELDS[node.field].label

    def shown(value: Any) -> str:
        if isinstance(value, tuple):
            return ", ".join(shown(v) for v in value)
        if isinstance(value, int) and node.field in ("stage", "owner", "segment"):
            return names.get((node.field, value), f"#{value}")
        return str(value)

    if node.field == "activity" and node.of:
        verb = VERBS[str(node.kind)]
        source = names.get(("of", node.of)) or " ".join(f"{k} {v}" for k, v in node.of)
        return {
            "ever": f"{verb} {source}",
            "never": f"never {verb} {source}",
            "within_days": f"{verb} {source} in the last {node.value} days",
            "not_within_days": f"not {verb} {source} in the last {node.value} days",
        }[node.op]
    if node.field == "activity":
        kind = str(node.kind).replace("_", " ")
        phrase = {
            "ever": f"has a {kind} activity",
            "never": f"has no {kind} activity",
            "within_days": f"a {kind} in the last {node.value} days",
            "not_within_days": f"no {kind} for {node.value} days",
        }[node.op]
        return phrase
    if node.field == "segment":
        return f"{'in' if node.op == 'in' else 'not in'} segment {shown(node.value)}"
    if node.op in ("within_days", "older_than_days"):
        tail = " ago" if node.op == "older_than_days" else ""
        return f"{label} {_OPS[node.op]} {node.value} days{tail}"
    if node.value is None:
        return f"{label} {_OPS[node.op]}"
    return f"{label} {_OPS[node.op]} {shown(node.value)}"


def as_group(node: Node) -> Group:
    """The builder edits a top-level group: a lone condition becomes "all of 1"."""
    return node if isinstance(node, Group) else Group("and", (node,))

"""The segment filter language, parsed and checked without a database.

A filter is a JSON tree. A group is `{"and": [...]}` or `{"or": [...]}`, groups nest, and
`{"not": node}` negates a group or a condition. A condition names a field, an operator
and (for most operators) a value:

    {"and": [
      {"field": "stage_kind", "op": "is", "value": "open"},
      {"not": {"field": "tag", "op": "has", "value": "customer"}},
      {"or": [
        {"field": "score", "op": "gte", "value": 40},
        {"field": "activity", "kind": "reply", "op": "within_days", "value": 30}
      ]},
      {"field": "segment", "op": "in", "value": 12}
    ]}

An activity condition names an activity `kind` (`leads.models.ActivityKind`) and may narrow
it with `of` (what the activity came from: `{"campaign": 3}`, `{"sequence": 2}`,
`{"sequence": 2, "step": 1}`), for the kinds an email of the outbox has (`SOURCED`): opened,
clicked in, replied to, and received (`message_out`: the Send itself was sent). The sources
are listed in `ACTIVITY_SOURCES`; whether what they name exists is asked of the database
when the filter is compiled (`segments/sources.py`).

`parse` turns the JSON into frozen nodes or raises `FilterProblem`, whose message says
what is wrong and where (`and[2].or[0]: ...`). Every condition is two-valued when compiled
(a missing value never matches a positive operator, and matches its negation), so
`not` means "everything else".
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from inboxcrm.leads.models import ActivityKind, Temperature
from inboxcrm.stages.models import StageKind

MAX_NODES = 200  # conditions and groups in one filter: a builder never gets near
MAX_DEPTH = 8
MAX_TEXT = 200
MAX_DAYS = 36_500
MAX_LIST = 100


class Kind(enum.StrEnum):
    """A field's value type: what it takes and which operators apply."""

    text = "text"
    number = "number"
    date = "date"
    choice = "choice"  # one of a fixed list (stage kind, temperature)
    ref = "ref"  # a row id of the workspace (stage, owner)
    tag = "tag"
    flag = "flag"
    activity = "activity"
    segment = "segment"


OPERATORS: dict[Kind, dict[str, str]] = {
    # op -> what the value is ("" for no value)
    Kind.text: {
        "is": "text",
        "is_not": "text",
        "contains": "text",
        "not_contains": "text",
        "starts_with": "text",
        "is_empty": "",
        "is_set": "",
    },
    Kind.number: {
        "eq": "number",
        "ne": "number",
        "gt": "number",
        "gte": "number",
        "lt": "number",
        "lte": "number",
        "is_empty": "",
        "is_set": "",
    },
    Kind.date: {
        "before": "date",
        "after": "date",
        "within_days": "days",
        "older_than_days": "days",
    },
    Kind.choice: {"is": "choice", "is_not": "choice", "in": "choices", "not_in": "choices"},
    Kind.ref: {
        "is": "id",
        "is_not": "id",
        "in": "ids",
        "not_in": "ids",
        "is_empty": "",
        "is_set": "",
    },
    Kind.tag: {"has": "text", "has_not": "text"},
    Kind.flag: {"is_true": "", "is_false": ""},
    Kind.activity: {
        "ever": "",
        "never": "",
        "within_days": "days",
        "not_within_days": "days",
    },
    Kind.segment: {"in": "id", "not_in": "id"},
}


@dataclass(frozen=True)
class Field:
    kind: Kind
    label: str
    choices: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    "name": Field(Kind.text, "Name"),
    "email": Field(Kind.text, "Email"),
    "search": Field(Kind.text, "Name, address or company"),
    "stage": Field(Kind.ref, "Stage"),
    "stage_kind": Field(Kind.choice, "Stage kind", tuple(StageKind)),
    "owner": Field(Kind.ref, "Owner"),
    "tag": Field(Kind.tag, "Tag"),
    "title": Field(Kind.text, "Title"),
    "timezone": Field(Kind.text, "Timezone"),
    "source": Field(Kind.text, "Source"),
    "created": Field(Kind.date, "Created"),
    "deal_value": Field(Kind.number, "Deal value"),
    "budget": Field(Kind.text, "Budget"),
    "authority": Field(Kind.text, "Authority"),
    "need": Field(Kind.text, "Need"),
    "timeline": Field(Kind.text, "Timeline"),
    "needs_review": Field(Kind.flag, "New from mail"),
    "company.name": Field(Kind.text, "Company name"),
    "company.domain": Field(Kind.text, "Company domain"),
    "company.industry": Field(Kind.text, "Company industry"),
    "company.size": Field(Kind.text, "Company size"),
    "score": Field(Kind.number, "Score"),
    "temperature": Field(Kind.choice, "Temperature", tuple(Temperature)),
    "activity": Field(Kind.activity, "Activity", tuple(ActivityKind)),
    "segment": Field(Kind.segment, "Segment"),
}

# What an activity came from, for `of`: a campaign, a sequence, a step of it (by its
# number, from 1). Each name maps to what its value is.
ACTIVITY_SOURCES: dict[str, str] = {"campaign": "id", "sequence": "id", "step": "step"}
# The activity kinds that carry their email's source: received (the Send sent), a person's
# open or click of it, a reply on its thread.
SOURCED = ("message_out", "open", "click", "reply")

Of = tuple[tuple[str, Any], ...]  # an `of`, its pairs sorted by name


class FilterProblem(ValueError):
    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = f"{where}: {message}" if where else message
        super().__init__(self.message)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None  # str, int, Decimal, date, or a tuple of them; None for no value
    kind: str | None = None  # activities: the activity kind
    of: Of = ()  # activities: what they came from
    where: str = ""  # its place in the tree, for messages and "why"


@dataclass(frozen=True)
class Group:
    op: str  # "and" or "or"
    items: tuple[Node, ...]
    where: str = ""


@dataclass(frozen=True)
class Not:
    item: Node
    where: str = ""


Node = Condition | Group | Not


def parse(raw: Any) -> Node:
    """The checked tree of a filter's JSON, or FilterProblem saying what is wrong, where."""
    counter = [0]
    return _node(raw, "", 0, counter)


def _node(raw: Any, where: str, depth: int, counter: list[int]) -> Node:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise FilterProblem(where, f"a filter has at most {MAX_NODES} conditions and groups")
    if depth > MAX_DEPTH:
        raise FilterProblem(where, f"groups nest at most {MAX_DEPTH} deep")
    if not isinstance(raw, dict):
        raise FilterProblem(where, "expected a group or a condition (a JSON object)")
    if "field" in raw:
        return _condition(raw, where)
    keys = set(raw)
    if keys == {"not"}:
        inner = f"{where}.not" if where else "not"
        return Not(_node(raw["not"], inner, depth + 1, counter), where)
    if len(keys) == 1 and keys <= {"and", "or"}:
        (op,) = keys
        items = raw[op]
        if not isinstance(items, list):
            raise FilterProblem(where, f'"{op}" takes a list of conditions and groups')
        return Group(
            op,
            tuple(
                _node(item, f"{where}.{op}[{i}]" if where else f"{op}[{i}]", depth + 1, counter)
                for i, item in enumerate(items)
            ),
            where,
        )
    raise FilterProblem(
        where,
        'expected {"and": [...]}, {"or": [...]}, {"not": ...} or a condition with "field", '
        f"got the keys {', '.join(sorted(map(str, keys))) or 'none'}",
    )


def _condition(raw: Mapping[str, Any], where: str) -> Condition:
    at = where or "filter"
    name = raw.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        raise FilterProblem(at, f"unknown field {name!r}; the fields are {', '.join(FIELDS)}")
    spec = FIELDS[name]
    allowed = {"field", "op", "value"} | ({"kind", "of"} if spec.kind is Kind.activity else set())
    extra = set(raw) - allowed
    if extra:
        raise FilterProblem(at, f"{name}: unexpected key {sorted(extra)[0]!r}")
    op = raw.get("op")
    ops = OPERATORS[spec.kind]
    if not isinstance(op, str) or op not in ops:
        raise FilterProblem(at, f"{name} has no operator {op!r}; use one of {', '.join(ops)}")
    takes = ops[op]
    if not takes:
        if raw.get("value") is not None:
            raise FilterProblem(at, f"{name} {op} takes no value")
        value = None
    else:
        if "value" not in raw or raw["value"] is None:
            raise FilterProblem(at, f"{name} {op} needs a value")
        value = _value(raw["value"], takes, spec, f"{at}: {name} {op}")
    kind: str | None = None
    of: tuple[tuple[str, Any], ...] = ()
    if spec.kind is Kind.activity:
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in ActivityKind.__members__:
            raise FilterProblem(
                at, f"activity needs a kind, one of {', '.join(ActivityKind)}; got {kind!r}"
            )
        of = _sources(raw.get("of"), kind, at)
    return Condition(name, op, value, kind, of, where)


def _sources(raw: Any, kind: str, at: str) -> Of:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise FilterProblem(at, 'activity "of" must be an object such as {"campaign": 3}')
    if kind not in SOURCED:
        raise FilterProblem(
            at,
            f"a {kind} activity records no campaign or sequence; these do: {', '.join(SOURCED)}",
        )
    out = []
    for key, value in sorted(raw.items()):
        if key not in ACTIVITY_SOURCES:
            known = ", ".join(ACTIVITY_SOURCES)
            raise FilterProblem(at, f"activities do not record {key!r} (known sources: {known})")
        what = f"{at}: of {key}"
        out.append((key, _value(value, ACTIVITY_SOURCES[key], FIELDS["activity"], what)))
    keys = {key for key, _ in out}
    if keys == {"step"}:
        raise FilterProblem(at, 'of "step" needs its "sequence"')
    if len(keys & {"campaign", "sequence"}) != 1 or keys - {"campaign", "sequence", "step"}:
        raise FilterProblem(at, "of names one campaign, or one sequence (and maybe a step)")
    if "campaign" in keys and "step" in keys:
        raise FilterProblem(at, "a campaign has no steps: name a sequence for a step")
    return tuple(out)


def _value(raw: Any, takes: str, spec: Field, what: str) -> Any:
    if takes == "text":
        if not isinstance(raw, str):
            raise FilterProblem("", f"{what} takes text, got {_type(raw)}")
        text = " ".join(raw.split())
        if not text:
            raise FilterProblem("", f"{what} needs some text")
        if len(text) > MAX_TEXT:
            raise FilterProblem("", f"{what}: text of at most {MAX_TEXT} characters")
        return text
    if takes == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise FilterProblem("", f"{what} takes a number, got {_type(raw)}")
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise FilterProblem("", f"{what} takes a number, got {raw!r}") from None
        if not number.is_finite() or abs(number) >= Decimal(10) ** 12:
            raise FilterProblem("", f"{what} takes a number below a trillion, got {raw!r}")
        return number
    if takes == "step":
        if isinstance(raw, bool) or not isinstance(raw, int):
            got = _type(raw)
            raise FilterProblem("", f"{what} takes a step number (1 for the first), got {got}")
        if not 1 <= raw <= MAX_LIST:
            raise FilterProblem("", f"{what}: steps are numbered from 1, got {raw}")
        return raw
    if takes in ("id", "days"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            kind = "a whole number of days" if takes == "days" else "an id (a whole number)"
            raise FilterProblem("", f"{what} takes {kind}, got {_type(raw)}")
        top = MAX_DAYS if takes == "days" else 2**62
        if not 0 <= raw <= top or (takes == "id" and raw == 0):
            raise FilterProblem("", f"{what}: {raw} is out of range")
        return raw
    if takes == "date":
        if not isinstance(raw, str):
            raise FilterProblem("", f"{what} takes a date as YYYY-MM-DD, got {_type(raw)}")
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise FilterProblem("", f"{what} takes a date as YYYY-MM-DD, got {raw!r}") from None
    if takes == "choice":
        if raw not in spec.choices:
            raise FilterProblem("", f"{what} takes one of {', '.join(spec.choices)}, got {raw!r}")
        return str(raw)
    if takes in ("choices", "ids"):
        if not isinstance(raw, list) or not raw:
            raise FilterProblem("", f"{what} takes a non-empty list, got {_type(raw)}")
        if len(raw) > MAX_LIST:
            raise FilterProblem("", f"{what}: a list of at most {MAX_LIST}")
        one = "choice" if takes == "choices" else "id"
        return tuple(dict.fromkeys(_value(item, one, spec, what) for item in raw))
    raise AssertionError(takes)


def _type(raw: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text"}
    names.update({list: "a list", dict: "an object", type(None): "nothing"})
    return names.get(type(raw), type(raw).__name__)


def dump(node: Node) -> dict[str, Any]:
    """The JSON of a parsed tree (values as JSON types): what a segment stores."""
    if isinstance(node, Not):
        return {"not": dump(node.item)}
    if isinstance(node, Group):
        return {node.op: [dump(item) for item in node.items]}
    out: dict[str, Any] = {"field": node.field, "op": node.op}
    if node.kind is not None:
        out["kind"] = node.kind
    if node.of:
        out["of"] = dict(node.of)
    if node.value is not None:
        out["value"] = _json(node.value)
    return out


def _json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, Group):
        for item in node.items:
            yield from walk(item)


def segment_refs(node: Node) -> set[int]:
    """The segments a filter refers to ("in segment S")."""
    return {n.value for n in walk(node) if isinstance(n, Condition) and n.field == "segment"}


def find_cycle(start: int, refs: Mapping[int, set[int]]) -> list[int] | None:
    """A path start -> ... -> start through "in segment" references, or None."""
    path: list[int] = []
    done: set[int] = set()

    def visit(at: int) -> bool:
        if at in path:
            path.append(at)
            return True
        if at in done:
            return False
        path.append(at)
        for nxt in sorted(refs.get(at, ())):
            if visit(nxt):
                return True
        path.pop()
        done.add(at)
        return False

    if not visit(start):
        return None
    first = path.index(path[-1])
    return path[first:]


EVERYONE: dict[str, Any] = {"and": []}  # the empty filter: every lead of the workspace

"""The filter language without a database: what it accepts, and what a bad filter is told."""

from __future__ import annotations

from typing import Any

import pytest

from inboxcrm.segments.filters import (
    Condition,
    FilterProblem,
    Group,
    Not,
    dump,
    find_cycle,
    parse,
    segment_refs,
)

NESTED = {
    "and": [
        {"field": "stage_kind", "op": "in", "value": ["open", "nurture"]},
        {"not": {"field": "tag", "op": "has", "value": "customer"}},
        {
            "or": [
                {"field": "score", "op": "gte", "value": 40},
                {"field": "activity", "kind": "reply", "op": "within_days", "value": 30},
                {"and": [{"field": "segment", "op": "in", "value": 7}]},
            ]
        },
    ]
}


def test_a_nested_filter_parses_and_dumps_back_the_same() -> None:
    node = parse(NESTED)
    assert isinstance(node, Group)
    assert node.op == "and"
    assert isinstance(node.items[1], Not)
    reply = node.items[2].items[1]  # type: ignore[union-attr]
    assert isinstance(reply, Condition)
    assert (reply.kind, reply.value, reply.where) == ("reply", 30, "and[2].or[1]")
    assert dump(node) == NESTED
    assert segment_refs(node) == {7}


def test_an_activity_names_its_campaign_or_sequence_step() -> None:
    raw = {"or": [
        {"field": "activity", "kind": "open", "op": "ever", "of": {"campaign": 3}},
        {"field": "activity", "kind": "message_out", "op": "within_days", "value": 7,
         "of": {"step": 2, "sequence": 5}},
    ]}  # fmt: skip
    node = parse(raw)
    assert isinstance(node, Group)
    opened, received = node.items
    assert isinstance(opened, Condition)
    assert isinstance(received, Condition)
    assert opened.of == (("campaign", 3),)
    assert received.of == (("sequence", 5), ("step", 2))
    assert dump(node) == raw


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ({"field": "titel", "op": "is", "value": "CFO"}, "unknown field 'titel'"),
        ({"and": [{"field": "score", "op": "gte", "value": "lots"}]}, "and[0]: score gte"),
        ({"field": "score", "op": "contains", "value": "4"}, "score has no operator 'contains'"),
        ({"field": "stage_kind", "op": "is", "value": "maybe"}, "takes one of open, won"),
        ({"field": "created", "op": "before", "value": "yesterday"}, "YYYY-MM-DD"),
        ({"field": "owner", "op": "is", "value": "me"}, "an id (a whole number)"),
        ({"field": "title", "op": "is"}, "title is needs a value"),
        ({"field": "title", "op": "is_set", "value": "x"}, "takes no value"),
        ({"field": "activity", "op": "ever"}, "activity needs a kind"),
        ({"field": "activity", "kind": "replied", "op": "ever"}, "activity needs a kind"),
        (
            {"field": "activity", "kind": "open", "op": "ever", "of": {"mailing": 3}},
            "do not record 'mailing' (known sources: campaign, sequence, step)",
        ),
        (
            {"field": "activity", "kind": "open", "op": "ever", "of": {"campaign": "3"}},
            "of campaign takes an id (a whole number), got text",
        ),
        ({"field": "activity", "kind": "open", "op": "ever", "of": 3}, "must be an object"),
        (
            {
                "field": "activity",
                "kind": "message_out",
                "op": "ever",
                "of": {"sequence": 2, "step": 0},
            },
            "of step: steps are numbered from 1, got 0",
        ),
        (
            {
                "field": "activity",
                "kind": "message_out",
                "op": "ever",
                "of": {"sequence": 2, "step": "two"},
            },
            "of step takes a step number (1 for the first)",
        ),
        (
            {"field": "activity", "kind": "message_out", "op": "ever", "of": {"step": 1}},
            'of "step" needs its "sequence"',
        ),
        (
            {"field": "activity", "kind": "reply", "op": "ever", "of": {"campaign": 1, "step": 1}},
            "a campaign has no steps",
        ),
        (
            {
                "field": "activity",
                "kind": "reply",
                "op": "ever",
                "of": {"campaign": 1, "sequence": 1},
            },
            "one campaign, or one sequence",
        ),
        (
            {"field": "activity", "kind": "bounce", "op": "ever", "of": {"campaign": 1}},
            "a bounce activity records no campaign or sequence; these do: message_out, open",
        ),
        ({"field": "activity", "kind": "reply", "op": "within_days", "value": -1}, "out of range"),
        ({"field": "score", "op": "gt", "value": True}, "takes a number, got true/false"),
        ({"field": "score", "op": "gt", "value": "NaN"}, "below a trillion"),
        ({"field": "tag", "op": "has", "value": "   "}, "needs some text"),
        ({"xor": []}, "expected"),
        ({"and": {"field": "score"}}, "takes a list"),
        ([1, 2], "expected a group or a condition"),
        ({"or": [{"not": {"field": "email", "op": "is", "value": 5}}]}, "or[0].not: email is"),
        ({"field": "score", "op": "gt", "value": 1, "extra": 1}, "unexpected key 'extra'"),
    ],
)
def test_a_bad_filter_is_refused_saying_what_and_where(raw: Any, said: str) -> None:
    with pytest.raises(FilterProblem) as caught:
        parse(raw)
    assert said in caught.value.message


def test_a_filter_too_big_or_too_deep_is_refused() -> None:
    deep: dict[str, Any] = {"field": "score", "op": "gt", "value": 1}
    for _ in range(12):
        deep = {"and": [deep]}
    with pytest.raises(FilterProblem, match="nest at most"):
        parse(deep)
    wide = {"or": [{"field": "score", "op": "gt", "value": i} for i in range(300)]}
    with pytest.raises(FilterProblem, match="at most 200"):
        parse(wide)


def test_cycles_through_segment_references_are_found() -> None:
    assert find_cycle(1, {1: {2}, 2: {3}, 3: set()}) is None
    assert find_cycle(1, {1: {2}, 2: {3}, 3: {1}}) == [1, 2, 3, 1]
    assert find_cycle(1, {1: {1}}) == [1, 1]
    assert find_cycle(1, {1: {2, 3}, 2: {4}, 3: {4}, 4: set()}) is None  # a diamond is fine

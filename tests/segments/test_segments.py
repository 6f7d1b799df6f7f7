"""Segments on a real database: what each kind of condition selects, `not` meaning
everything else, saved segments referring to others (and never to themselves), "why"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.errors import Conflict, Forbidden, Invalid
from inboxcrm.leads.models import Lead
from inboxcrm.segments import service
from inboxcrm.segments.filters import parse
from inboxcrm.stages.models import Stage
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, WorkspaceFactory
from tests.support.database import statements

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def who(scope: Scope, raw: Any) -> set[str]:
    node = parse(raw)
    leads = service.first_leads(scope, node, NOW, limit=100)
    assert service.count(scope, node, NOW) == len(leads)
    return {lead.name.split()[0].lower() for lead in leads}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"and": []}, {"ann", "bob", "cid"}),
        ({"or": []}, set()),
        ({"field": "title", "op": "is", "value": "cfo"}, {"ann"}),
        # No title is "not CFO" too: every condition is two-valued.
        ({"field": "title", "op": "is_not", "value": "CFO"}, {"bob", "cid"}),
        ({"not": {"field": "title", "op": "contains", "value": "f"}}, {"bob", "cid"}),
        ({"field": "title", "op": "is_empty"}, {"bob"}),
        ({"field": "company.name", "op": "starts_with", "value": "acme"}, {"ann"}),
        ({"field": "company.name", "op": "is_empty"}, {"cid"}),
        ({"field": "tag", "op": "has", "value": "VIP"}, {"ann"}),
        ({"field": "tag", "op": "has_not", "value": "vip"}, {"bob", "cid"}),
        ({"field": "score", "op": "gte", "value": 45}, {"ann", "cid"}),
        ({"field": "deal_value", "op": "gt", "value": 1000}, {"bob"}),
        ({"field": "deal_value", "op": "is_empty"}, {"ann", "cid"}),
        ({"field": "stage_kind", "op": "is", "value": "open"}, {"ann", "bob", "cid"}),
        ({"field": "stage_kind", "op": "in", "value": ["won", "lost"]}, set()),
        ({"field": "activity", "kind": "reply", "op": "within_days", "value": 30}, {"ann"}),
        ({"field": "activity", "kind": "reply", "op": "ever"}, {"ann", "bob"}),
        # "No reply for 30 days": the lead who replied 60 days ago and the one who never did.
        (
            {"field": "activity", "kind": "reply", "op": "not_within_days", "value": 30},
            {"bob", "cid"},
        ),
        ({"field": "activity", "kind": "bounce", "op": "ever"}, {"cid"}),
        ({"field": "activity", "kind": "unsubscribe", "op": "never"}, {"ann", "bob", "cid"}),
        ({"field": "search", "op": "contains", "value": "glob"}, {"bob"}),
        ({"field": "created", "op": "within_days", "value": 10_000}, {"ann", "bob", "cid"}),
        (
            {
                "and": [
                    {"field": "stage_kind", "op": "is", "value": "open"},
                    {
                        "or": [
                            {"field": "score", "op": "gte", "value": 60},
                            {
                                "and": [
                                    {"field": "activity", "kind": "bounce", "op": "ever"},
                                    {"not": {"field": "title", "op": "is", "value": "CFO"}},
                                ]
                            },
                        ]
                    },
                ]
            },
            {"ann", "cid"},
        ),
    ],
)
def test_each_condition_selects_the_leads_it_says(
    scope: Scope, people: dict[str, Lead], raw: Any, expected: set[str]
) -> None:
    assert who(scope, raw) == expected


def test_owner_and_stage_conditions_take_ids(
    scope: Scope, people: dict[str, Lead], marketer: Member, session: Session
) -> None:
    rep_id = people["ann"].owner_id
    assert who(scope, {"field": "owner", "op": "is", "value": rep_id}) == {"ann", "bob"}
    assert who(scope, {"field": "owner", "op": "not_in", "value": [rep_id]}) == {"cid"}
    stage = session.query(Stage).filter_by(workspace_id=scope.workspace_id, name="SQL").one()
    people["bob"].stage_id = stage.id
    session.commit()
    assert who(scope, {"field": "stage", "op": "is", "value": stage.id}) == {"bob"}


def test_a_segment_sees_only_its_workspace(scope: Scope, people: dict[str, Lead]) -> None:
    stranger = MemberFactory(workspace=WorkspaceFactory())
    LeadFactory(owner=stranger, name="Zed Other", title="CFO")
    assert who(scope, {"field": "title", "op": "is", "value": "CFO"}) == {"ann"}


def test_counting_is_one_query_however_many_leads_and_activities(
    scope: Scope, people: dict[str, Lead], session: Session
) -> None:
    node = parse(
        {
            "or": [
                {"field": "activity", "kind": "reply", "op": "within_days", "value": 30},
                {"field": "tag", "op": "has", "value": "vip"},
                {"field": "company.domain", "op": "contains", "value": "acme"},
            ]
        }
    )
    sent = statements(session.get_bind(), lambda: service.count(scope, node, NOW))
    # One SELECT (PostgreSQL is told first not to JIT-compile it, a SET).
    (query,) = [sql for sql, _ in sent if not sql.startswith("SET LOCAL")]
    assert "EXISTS" in query


def test_saved_segments_refer_to_each_other_once_and_never_to_themselves(
    scope: Scope, people: dict[str, Lead], marketer: Member, session: Session
) -> None:
    vips = service.create_segment(
        scope, marketer, "VIPs", {"field": "tag", "op": "has", "value": "vip"}
    )
    repliers = service.create_segment(
        scope,
        marketer,
        "Replied lately",
        {"field": "activity", "kind": "reply", "op": "within_days", "value": 90},
    )
    both = service.create_segment(
        scope,
        marketer,
        "VIPs who replied",
        {
            "and": [
                {"field": "segment", "op": "in", "value": vips.id},
                {"field": "segment", "op": "in", "value": repliers.id},
                {"not": {"and": [{"field": "segment", "op": "not_in", "value": vips.id}]}},
            ]
        },
    )
    session.commit()
    node = parse(both.filter)
    assert who(scope, both.filter) == {"ann"}
    sent = statements(session.get_bind(), lambda: service.count(scope, node, NOW))
    # The segments it names are read (a level at a time), then one query counts.
    assert [sql for sql, _ in sent if "FROM segment" in sql and "WITH" not in sql]
    sql = sent[-1][0]
    # One CTE per segment, however often it is named.
    assert sql.count(f"segment_{vips.id} AS") == 1

    with pytest.raises(Invalid, match="cannot include itself"):
        service.update_segment(
            scope, marketer, vips, raw={"field": "segment", "op": "in", "value": vips.id}
        )
    with pytest.raises(Invalid, match="cannot include itself"):
        service.update_segment(
            scope, marketer, vips, raw={"field": "segment", "op": "in", "value": both.id}
        )
    with pytest.raises(Invalid, match="does not exist"):
        service.create_segment(
            scope, marketer, "Ghost", {"field": "segment", "op": "in", "value": 99999}
        )
    with pytest.raises(Conflict, match="part of VIPs who replied"):
        service.delete_segment(scope, marketer, vips)
    with pytest.raises(Conflict, match="already a segment called VIPs"):
        service.create_segment(scope, marketer, "vips", {"and": []})


def test_reps_read_segments_but_do_not_manage_them(scope: Scope, marketer: Member) -> None:
    rep = MemberFactory(workspace=marketer.workspace, role=Role.rep)
    with pytest.raises(Forbidden, match="reps cannot manage segments"):
        service.create_segment(scope, rep, "Mine", {"and": []})


def test_why_a_lead_is_in_or_out_names_each_condition(
    scope: Scope, people: dict[str, Lead]
) -> None:
    node = parse(
        {
            "and": [
                {"field": "score", "op": "gte", "value": 40},
                {"not": {"field": "activity", "kind": "bounce", "op": "ever"}},
            ]
        }
    )
    held, verdicts = service.explain(scope, node, people["ann"], NOW)
    assert held
    assert [(v.text, v.held) for v in verdicts] == [
        ("all of 2", True),
        ("Score ≥ 40", True),
        ("not", True),
        ("has a bounce activity", False),
    ]
    held, verdicts = service.explain(scope, node, people["cid"], NOW)
    assert not held
    assert [v.held for v in verdicts] == [False, True, False, True]


def test_the_count_and_a_page_of_a_filter_of_subqueries_come_from_one_pass(
    scope: Scope, people: dict[str, Lead], session: Session
) -> None:
    node = parse({"or": [{"field": "activity", "kind": "reply", "op": "ever"},
                         {"field": "tag", "op": "has", "value": "nobody-has-it"}]})  # fmt: skip
    sent = statements(session.get_bind(), lambda: service.counted_leads(scope, node, NOW, 1))
    # One SELECT of the filter (the count a window over it), then the page's lead rows.
    segment_queries = [sql for sql, _ in sent if "EXISTS" in sql]
    assert len(segment_queries) == 1
    total, page = service.counted_leads(scope, node, NOW, limit=1)
    assert total == 2
    assert [lead.name for lead in page] == ["Bob Baker"]  # newest first
    total, page = service.counted_leads(scope, node, NOW, limit=1, offset=1)
    assert (total, [lead.name for lead in page]) == (2, ["Ann Archer"])
    assert service.counted_leads(scope, node, NOW, limit=1, offset=5) == (2, [])
    nobody = parse({"and": [{"field": "activity", "kind": "meeting", "op": "ever"},
                            {"field": "tag", "op": "has", "value": "vip"}]})  # fmt: skip
    assert service.counted_leads(scope, nobody, NOW) == (0, [])
    # A filter of one subquery at most is counted and paged apart, with the same answer.
    simple = parse({"field": "activity", "kind": "reply", "op": "ever"})
    total, page = service.counted_leads(scope, simple, NOW, limit=1)
    assert (total, [lead.name for lead in page]) == (2, ["Bob Baker"])

"""The leads table's and the board's queries walk an index in the order they show, on
both databases: no sort step, and no index entry read only to be filtered out.

A workspace of a few thousand leads, planned with real statistics (ANALYZE), so each
database picks its plan as it would for a team's table."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.history import stage_history
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.leads.service import DEFAULT_SORT, SORTS, LeadFilter, list_leads
from inboxcrm.pipeline.board import first_pages
from inboxcrm.scoring.models import TemperatureChange
from inboxcrm.scoring.panel import temperature_changes
from inboxcrm.stages.models import ChangeSource, StageChange
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope
from tests.factories import MemberFactory
from tests.support.database import POSTGRES_URL, plan, sorts_and_filters, statements
from tests.support.stages import T0

LEADS = 3_000


@pytest.fixture
def rep(session: Session) -> Member:
    """A rep owning a quarter of the workspace's leads; a colleague most of the rest, and
    one lead in ten owned by no one. Some leads have no deal value or no contact yet."""
    rep = MemberFactory()
    colleague = MemberFactory(workspace=rep.workspace)
    stage_ids = [s.id for s in list_stages(Scope(session, rep.workspace_id))]
    rng = random.Random(18)
    owners = [rep.id, colleague.id, colleague.id, colleague.id] * 9 + [None] * 4
    rows = [
        {
            "workspace_id": rep.workspace_id,
            "email": f"p{i}@customer{i % 50}.example",
            "name": f"Person {rng.randint(0, 10**6)}",
            "owner_id": rng.choice(owners),
            "stage_id": rng.choice(stage_ids),
            "score": rng.randint(0, 100),
            "temperature": rng.choice(list(Temperature)),
            "deal_value": rng.randint(0, 50_000) if i % 4 else None,
            "last_contacted_at": T0 - dt.timedelta(minutes=rng.randint(0, 10**5))
            if i % 20
            else None,
            "search_text": f"person {i}",
            "created_at": T0 - dt.timedelta(minutes=i),
            "updated_at": T0,
        }
        for i in range(LEADS)
    ]
    session.execute(insert(Lead), rows)
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()
    return rep


def page_ids_statement(session: Session, scope: Scope, flt: LeadFilter) -> tuple[str, object]:
    """The statement that picks the page's lead ids (after the count, before the rows)."""
    sent = statements(session, lambda: list_leads(scope, flt))
    ordered = [(sql, params) for sql, params in sent if "ORDER BY" in sql and "LIMIT" in sql]
    assert ordered, sent
    return ordered[0]


@pytest.mark.parametrize("sort", [f"{way}{s}" for s in SORTS for way in ("", "-")])
def test_every_sort_either_way_walks_an_index(session: Session, rep: Member, sort: str) -> None:
    scope = Scope(session, rep.workspace_id)
    for page in (1, 20):
        statement, params = page_ids_statement(session, scope, LeadFilter(sort=sort, page=page))
        assert sorts_and_filters(plan(session, statement, params)) == []


@pytest.mark.parametrize(
    "owner",
    [
        "me",
        pytest.param(
            "none",
            # PostgreSQL takes no order from an index through IS NULL: it sorts the unowned
            # leads when its statistics say they are few, walks the sort index when many.
            marks=pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite only"),
        ),
    ],
)
def test_a_reps_default_view_walks_an_index_of_their_leads(
    session: Session, rep: Member, owner: str
) -> None:
    """The leads table as a rep opens it: their own leads, last contacted first, on the
    first page and further on; on SQLite the unowned ones likewise."""
    scope = Scope(session, rep.workspace_id)
    flt = {"me": {"owner_id": rep.id}, "none": {"unowned": True}}[owner]
    for page in (1, 10):
        statement, params = page_ids_statement(
            session, scope, LeadFilter(sort=DEFAULT_SORT, page=page, **flt)
        )
        lines = plan(session, statement, params)
        assert sorts_and_filters(lines) == []
        assert any("owner_id" in line for line in lines)  # the index condition, not a filter


@pytest.mark.parametrize("mine", [False, True])
def test_each_board_column_walks_an_index_of_its_stage(
    session: Session, rep: Member, mine: bool
) -> None:
    scope = Scope(session, rep.workspace_id)
    flt = LeadFilter(owner_id=rep.id if mine else None)
    pages = first_pages(scope, list_stages(scope), flt)
    (columns,) = statements(session, lambda: session.execute(pages).all())
    lines = plan(session, *columns)
    assert sorts_and_filters(lines) == []
    assert any("stage_id" in line for line in lines)


def test_a_leads_stage_and_temperature_history_walks_the_leads_own_index(
    session: Session, rep: Member
) -> None:
    """Three changes of each kind for every lead, added after the statistics were taken
    (a history grows between ANALYZEs): one lead's history, newest first, is read from the
    index of its own changes in order, not from the workspace's changes newest first."""
    ws = rep.workspace_id
    scope = Scope(session, ws)
    lead_ids = list(session.scalars(select(Lead.id).where(Lead.workspace_id == ws)))
    stage_ids = [s.id for s in list_stages(scope)]
    hours = [T0 - dt.timedelta(hours=h) for h in (1, 30, 300)]
    session.execute(insert(StageChange), [
        {"workspace_id": ws, "lead_id": i, "from_stage_id": stage_ids[0],
         "to_stage_id": stage_ids[1], "changed_at": at, "source": ChangeSource.label}
        for i in lead_ids for at in hours
    ])  # fmt: skip
    session.execute(insert(TemperatureChange), [
        {"workspace_id": ws, "lead_id": i, "from_temperature": Temperature.warm,
         "to_temperature": Temperature.hot, "changed_at": at}
        for i in lead_ids for at in hours
    ])  # fmt: skip
    session.commit()
    if POSTGRES_URL:  # its autovacuum analyzes a growing table; SQLite never does by itself
        session.execute(text("ANALYZE"))
        session.commit()
    for read in (
        lambda: stage_history(scope, lead_ids[7]),
        lambda: temperature_changes(scope, lead_ids[7], 10),
    ):
        (statement, params), *_ = statements(session, read)
        lines = plan(session, statement, params)
        assert [s for s in sorts_and_filters(lines) if not s.startswith("Filter:")] == [], lines
        assert any("lead_id_changed_at_id" in line for line in lines), lines

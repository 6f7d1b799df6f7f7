from __future__ import annotations

import datetime as dt
import decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.errors import Forbidden, Invalid, NotFound
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.leads.service import LeadFilter
from inboxcrm.pipeline.board import board, column_cards, move_card
from inboxcrm.stages.models import ChangeSource, StageChange
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, StageChangeFactory
from tests.support.database import statements
from tests.support.stages import T0, stages


def test_columns_count_and_total_their_leads_per_currency(session: Session) -> None:
    rep = MemberFactory()
    other = MemberFactory(workspace=rep.workspace)
    named = stages(session, rep)
    LeadFactory(owner=rep, deal_value=decimal.Decimal("1000"), at=T0)
    LeadFactory(owner=rep, deal_value=decimal.Decimal("250.50"), at=T0)
    LeadFactory(owner=other, deal_value=decimal.Decimal("300"), currency="EUR", at=T0)
    LeadFactory(owner=other, stage_id=named["SQL"].id, deal_value=decimal.Decimal("5"), at=T0)
    LeadFactory(owner=other, at=T0)  # no value: counted, adds nothing
    LeadFactory(owner=MemberFactory(), deal_value=decimal.Decimal("9999"), at=T0)  # elsewhere

    columns = {c.stage.name: c for c in board(Scope(session, rep.workspace_id), LeadFilter(), T0)}

    assert list(columns) == [
        "Lead", "MQL", "SAL", "SQL", "SQO", "Won", "Lost", "Nurture", "Unqualified"
    ]  # fmt: skip
    assert columns["Lead"].count == 4
    assert columns["Lead"].totals == {
        "USD": decimal.Decimal("1250.50"),
        "EUR": decimal.Decimal("300"),
    }
    assert columns["SQL"].count == 1
    assert columns["SQL"].totals == {"USD": decimal.Decimal("5")}
    assert columns["Won"].count == 0
    assert columns["Won"].cards == []
    assert len(columns["Lead"].cards) == 4


def test_filters_by_owner_temperature_and_tag(session: Session) -> None:
    rep = MemberFactory()
    other = MemberFactory(workspace=rep.workspace)
    mine = LeadFactory(owner=rep, name="Mine", tags=["vip"], at=T0)
    theirs = LeadFactory(owner=other, name="Theirs", at=T0)
    theirs.temperature = Temperature.hot
    session.commit()
    s = Scope(session, rep.workspace_id)

    def names(flt: LeadFilter) -> list[str]:
        return [card.name for col in board(s, flt, T0) for card in col.cards]

    assert names(LeadFilter(owner_id=rep.id)) == ["Mine"]
    assert names(LeadFilter(temperature=Temperature.hot)) == ["Theirs"]
    assert names(LeadFilter(tag="VIP")) == ["Mine"]
    assert names(LeadFilter(unowned=True)) == []
    # A stage in the filter does not empty the other columns: the columns are the stages.
    assert sorted(names(LeadFilter(stage_id=mine.stage_id + 3))) == ["Mine", "Theirs"]
    figures = {c.stage.name: c.count for c in board(s, LeadFilter(owner_id=other.id), T0)}
    assert figures["Lead"] == 1


def test_a_column_shows_25_newest_cards_and_pages_on_by_keyset(session: Session) -> None:
    rep = MemberFactory()
    leads = [LeadFactory(owner=rep, name=f"Person {i:02}", at=T0) for i in range(30)]
    s = Scope(session, rep.workspace_id)
    first = board(s, LeadFilter(), T0)[0]

    assert first.count == 30
    assert [c.name for c in first.cards] == [f"Person {i:02}" for i in range(29, 4, -1)]
    assert first.more_after == leads[5].id
    rest, more = column_cards(s, first.stage, LeadFilter(), T0, after=first.more_after)
    assert [c.name for c in rest] == [f"Person {i:02}" for i in range(4, -1, -1)]
    assert more is None


@pytest.mark.parametrize("flt", [LeadFilter(tag="vip"), LeadFilter(q="tagged")])
def test_a_tag_or_search_filter_pages_each_column_as_without(
    session: Session, flt: LeadFilter
) -> None:
    """Tag and search filters rank the whole set in one pass: the same newest cards per
    column and the same keyset on as a stage's own page."""
    rep = MemberFactory()
    named = stages(session, rep)
    columns = [named["Lead"], named["SQL"]]
    tagged: dict[int, list[int]] = {stage.id: [] for stage in columns}
    for i in range(70):
        stage = columns[i % 2]
        picked = i % 3 != 0
        lead = LeadFactory(owner=rep, stage_id=stage.id, at=T0, tags=["vip"] if picked else [],
                           name=f"{'Tagged' if picked else 'Plain'} {i}")  # fmt: skip
        if picked:
            tagged[stage.id].append(lead.id)
    s = Scope(session, rep.workspace_id)

    shown = {c.stage.id: c for c in board(s, flt, T0)}

    for stage in columns:
        newest = sorted(tagged[stage.id], reverse=True)
        column = shown[stage.id]
        assert column.count == len(newest) == 23
        assert [c.id for c in column.cards] == newest[:25]
        assert column.more_after is None  # 23: all shown
    # Five more in one column: 28, a page and three on.
    for i in range(5):
        lead = LeadFactory(owner=rep, stage_id=named["Lead"].id, at=T0, tags=["vip"],
                           name=f"Tagged late {i}")  # fmt: skip
        tagged[named["Lead"].id].append(lead.id)
    first = next(c for c in board(s, flt, T0) if c.stage.id == named["Lead"].id)
    newest = sorted(tagged[named["Lead"].id], reverse=True)
    assert [c.id for c in first.cards] == newest[:25]
    assert first.more_after == newest[24]
    rest, more = column_cards(s, first.stage, flt, T0, after=first.more_after)
    assert [c.id for c in rest] == newest[25:]
    assert more is None


def test_the_board_is_three_queries_whatever_the_size(session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    for i in range(30):
        LeadFactory(owner=rep, stage_id=list(named.values())[i % 3].id, at=T0)
    s = Scope(session, rep.workspace_id)
    sent = statements(session, lambda: board(s, LeadFilter(), T0))
    # The figures, the stages, and the cards of every column's first page.
    assert len(sent) == 3
    assert len([sql for sql, _ in sent if sql.startswith("SELECT stage.")]) == 1


def test_days_in_stage_come_from_the_latest_move_and_old_open_cards_are_stale(
    session: Session,
) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    never_moved = LeadFactory(owner=rep, name="Never moved", at=T0)
    moved = LeadFactory(owner=rep, name="Moved", at=T0)
    StageChangeFactory(lead=moved, stage=named["MQL"], at=T0 + dt.timedelta(days=3), by=rep)
    won = LeadFactory(owner=rep, name="Won long ago", at=T0)
    StageChangeFactory(lead=won, stage=named["Won"], at=T0 + dt.timedelta(days=1), by=rep)
    now = T0 + dt.timedelta(days=16, hours=5)

    scope = Scope(session, rep.workspace_id)
    columns = board(scope, LeadFilter(), now)
    cards = {card.name: card for col in columns for card in col.cards}
    (folded,) = [col for col in columns if col.stage.name == "Won"]
    assert (folded.folded, folded.count, folded.cards) == (True, 1, [])  # read when opened
    cards.update((c.name, c) for c in column_cards(scope, folded.stage, LeadFilter(), now)[0])

    assert cards["Never moved"].days_in_stage == 16
    assert cards["Never moved"].stale
    assert cards["Moved"].days_in_stage == 13
    assert not cards["Moved"].stale
    assert cards["Won long ago"].days_in_stage == 15
    assert not cards["Won long ago"].stale  # won is not an open stage: nothing to chase
    assert never_moved.stage.name == "Lead"


def test_moving_a_card_records_who_moved_it(session: Session) -> None:
    rep = MemberFactory(name="Rita")
    named = stages(session, rep)
    lead = LeadFactory(owner=rep, at=T0)
    s = Scope(session, rep.workspace_id)

    change = move_card(s, lead.id, named["SQL"].id, rep, T0 + dt.timedelta(hours=1))
    session.commit()

    assert change is not None
    assert (change.from_stage_id, change.to_stage_id) == (named["Lead"].id, named["SQL"].id)
    assert change.source is ChangeSource.member
    assert change.member_id == rep.id
    assert lead.stage.name == "SQL"
    # Moving to the stage it is in changes and records nothing.
    assert move_card(s, lead.id, named["SQL"].id, rep, T0 + dt.timedelta(hours=2)) is None


def test_moving_to_lost_needs_a_reason_and_keeps_it(session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    lead = LeadFactory(owner=rep, at=T0)
    s = Scope(session, rep.workspace_id)

    for blank in ("", "   \n "):
        with pytest.raises(Invalid) as refused:
            move_card(s, lead.id, named["Lost"].id, rep, T0, lost_reason=blank)
        assert refused.value.status == 422
        assert refused.value.fields == {"lost_reason": "required"}
    with pytest.raises(Invalid, match="too long"):
        move_card(s, lead.id, named["Lost"].id, rep, T0, lost_reason="x" * 301)
    session.rollback()
    assert session.get(Lead, lead.id).stage.name == "Lead"  # type: ignore[union-attr]

    move_card(s, lead.id, named["Lost"].id, rep, T0, lost_reason="  Went with  a competitor ")
    session.commit()
    assert lead.lost_reason == "Went with a competitor"
    assert not lead.is_marketable
    # Reopened: the lost reason no longer applies.
    move_card(s, lead.id, named["MQL"].id, rep, T0 + dt.timedelta(days=1))
    assert lead.lost_reason is None
    assert lead.is_marketable


def test_marketers_cannot_move_and_other_workspaces_are_not_found(session: Session) -> None:
    rep = MemberFactory()
    marketer = MemberFactory(workspace=rep.workspace, role=Role.marketer)
    named = stages(session, rep)
    lead = LeadFactory(owner=rep, at=T0)
    stranger = MemberFactory()
    strangers_lead = LeadFactory(owner=stranger, at=T0)
    s = Scope(session, rep.workspace_id)

    with pytest.raises(Forbidden):
        move_card(s, lead.id, named["MQL"].id, marketer, T0)
    with pytest.raises(NotFound):
        move_card(s, strangers_lead.id, named["MQL"].id, rep, T0)
    their_stage = stages(session, stranger)["MQL"]
    with pytest.raises(Invalid, match="no stage"):
        move_card(s, lead.id, their_stage.id, rep, T0)
    session.rollback()
    assert session.scalars(select(StageChange)).all() == []


def test_leads_in_lost_or_unqualified_stages_are_not_marketable(session: Session) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    by_kind = {}
    for name in ("Lead", "MQL", "Won", "Lost", "Nurture", "Unqualified"):
        lead = LeadFactory(owner=rep, at=T0)
        if name != "Lead":  # where a new lead starts
            StageChangeFactory(lead=lead, stage=named[name], at=T0, by=rep)
        by_kind[name] = lead.is_marketable
    assert by_kind == {
        "Lead": True, "MQL": True, "Won": True, "Lost": False, "Nurture": True, "Unqualified": False
    }  # fmt: skip
    # Keyed by kind: a renamed lost stage is still lost.
    named["Lost"].name = "Closed - no deal"
    lost = LeadFactory(owner=rep, at=T0)
    StageChangeFactory(lead=lost, stage=named["Lost"], at=T0, by=rep)
    assert not lost.is_marketable

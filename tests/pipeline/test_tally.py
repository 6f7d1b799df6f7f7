"""The board's running tally: whatever writes the leads (the ORM, Core bulk writes,
deletes), its figures are those of the leads, before and after folding."""

from __future__ import annotations

import decimal
import random

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead
from inboxcrm.leads.service import LeadFilter
from inboxcrm.pipeline.models import StageTally
from inboxcrm.pipeline.tally import FOLD_AFTER, Figures, fold, fold_due, tallied
from inboxcrm.runtime import Runtime
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory
from tests.support.database import POSTGRES_URL
from tests.support.stages import T0, stages


def counted(session: Session, workspace_id: int, flt: LeadFilter) -> Figures:
    """The figures added up from the leads themselves."""
    query = (
        select(Lead.stage_id, Lead.currency, func.count(), func.sum(Lead.deal_value))
        .where(Lead.workspace_id == workspace_id)
        .group_by(Lead.stage_id, Lead.currency)
    )
    if flt.unowned:
        query = query.where(Lead.owner_id.is_(None))
    elif flt.owner_id is not None:
        query = query.where(Lead.owner_id == flt.owner_id)
    figures: Figures = {}
    for stage_id, currency, count, total in session.execute(query):
        seen, totals = figures.get(stage_id, (0, {}))
        if total is not None:
            totals[currency] = decimal.Decimal(total)
        figures[stage_id] = (seen + count, totals)
    return figures


def test_the_tally_follows_every_way_leads_are_written(session: Session) -> None:
    rep = MemberFactory()
    ws = rep.workspace_id
    others = [MemberFactory(workspace=rep.workspace) for _ in range(2)]
    owners = [rep.id, *(m.id for m in others), None]
    stage_ids = [s.id for s in stages(session, rep).values()]
    elsewhere = LeadFactory(deal_value=decimal.Decimal("7"))  # another workspace's
    scope = Scope(session, ws)
    rng = random.Random(37)

    def value() -> decimal.Decimal | None:
        return None if rng.random() < 0.3 else decimal.Decimal(rng.randint(0, 99999)) / 100

    def ids() -> list[int]:
        return list(session.scalars(select(Lead.id).where(Lead.workspace_id == ws)))

    members = [m.id for m in (rep, *others)]
    for step in range(120):
        kind = rng.choice(["create", "orm", "bulk_update", "bulk_insert", "delete", "fold"])
        if kind == "create" or not ids():
            owner = session.get(Member, rng.choice(members))
            LeadFactory(owner=owner, deal_value=value(), at=T0)
        elif kind == "orm":  # one lead edited: any of what the board counts
            lead = session.get(Lead, rng.choice(ids()))
            assert lead is not None
            field = rng.choice(["stage_id", "owner_id", "deal_value", "currency", "name"])
            setattr(lead, field, {
                "stage_id": lambda: rng.choice(stage_ids), "owner_id": lambda: rng.choice(owners),
                "deal_value": value, "currency": lambda: rng.choice(["USD", "EUR"]),
                "name": lambda: "Renamed",
            }[field]())  # fmt: skip
        elif kind == "bulk_update":  # a bulk reassign or move, as Core writes it
            some = rng.sample(ids(), min(5, len(ids())))
            moved = {"stage_id": rng.choice(stage_ids), "deal_value": value()}
            change = rng.choice([{"owner_id": rng.choice(owners)}, moved])
            session.execute(update(Lead).where(Lead.id.in_(some)).values(**change))
        elif kind == "bulk_insert":  # an import's rows
            session.execute(insert(Lead), [
                {"workspace_id": ws, "email": f"bulk{step}-{i}@import.example",
                 "stage_id": rng.choice(stage_ids), "owner_id": rng.choice(owners),
                 "deal_value": value(), "currency": "USD", "source": "import",
                 "search_text": "", "created_at": T0, "updated_at": T0}
                for i in range(4)
            ])  # fmt: skip
        elif kind == "delete":  # its emails and the rest go by the foreign keys' cascade
            session.execute(delete(Lead).where(Lead.id == rng.choice(ids())))
            session.commit()
            session.expunge_all()
        else:
            fold(session, ws)
        session.commit()
        for flt in [LeadFilter(), LeadFilter(unowned=True),
                    *(LeadFilter(owner_id=o) for o in owners if o)]:  # fmt: skip
            assert tallied(scope, flt) == counted(session, ws, flt), (step, kind, flt)
    fold(session, ws)
    session.commit()
    assert tallied(scope, LeadFilter()) == counted(session, ws, LeadFilter())
    groups = select(Lead.stage_id, Lead.owner_id, Lead.currency).distinct()
    kept = select(func.count()).where(StageTally.workspace_id == ws)
    assert session.scalar(kept) == session.scalar(  # a row a group of leads, none other
        select(func.count()).select_from(groups.where(Lead.workspace_id == ws).subquery())
    )
    assert tallied(Scope(session, elsewhere.workspace_id), LeadFilter()) == {
        elsewhere.stage_id: (1, {"USD": decimal.Decimal("7")})
    }


def test_a_group_that_empties_folds_away_and_the_clock_folds_busy_workspaces(
    session: Session, db: Database, settings: Settings
) -> None:
    runtime = Runtime(db, settings, workers=1)
    rep = MemberFactory()
    quiet = MemberFactory()
    scope = Scope(session, rep.workspace_id)
    lead = LeadFactory(owner=rep, deal_value=decimal.Decimal("10"))
    LeadFactory(owner=quiet)
    session.execute(delete(Lead).where(Lead.id == lead.id))
    session.commit()
    assert tallied(scope, LeadFilter()) == {}  # in and out: nothing
    fold(session, rep.workspace_id)
    session.commit()
    assert (
        session.scalar(select(func.count()).where(StageTally.workspace_id == rep.workspace_id)) == 0
    )

    session.execute(insert(Lead), [
        {"workspace_id": rep.workspace_id, "email": f"p{i}@import.example",
         "stage_id": lead.stage_id, "owner_id": rep.id, "deal_value": 1, "currency": "USD",
         "source": "import", "search_text": "", "created_at": T0, "updated_at": T0}
        for i in range(FOLD_AFTER + 1)
    ])  # fmt: skip
    session.commit()
    assert fold_due(runtime, T0) == FOLD_AFTER + 1  # the busy workspace only
    session.expire_all()
    assert tallied(scope, LeadFilter()) == {
        lead.stage_id: (FOLD_AFTER + 1, {"USD": decimal.Decimal(FOLD_AFTER + 1)})
    }
    mine = LeadFilter(owner_id=quiet.id)
    assert tallied(Scope(session, quiet.workspace_id), mine) == counted(
        session, quiet.workspace_id, mine
    )


@pytest.mark.skipif(not POSTGRES_URL, reason="concurrent writers: PostgreSQL")
def test_a_fold_beside_an_open_write_neither_waits_nor_loses_it(
    session: Session, db: Database
) -> None:
    """A sync's transaction adds leads while the clock folds: the fold takes only the rows
    it can see, without waiting for the open transaction, and the count is right after."""
    rep = MemberFactory()
    ws = rep.workspace_id
    stage_id = LeadFactory(owner=rep, deal_value=decimal.Decimal("5")).stage_id
    row = {"workspace_id": ws, "stage_id": stage_id, "owner_id": rep.id, "currency": "USD",
           "source": "import", "search_text": "", "created_at": T0, "updated_at": T0}  # fmt: skip
    committed = session.scalar(select(func.count()).where(StageTally.workspace_id == ws))
    with db.sessions() as writer, db.sessions() as clock:
        writer.execute(insert(Lead), [{**row, "email": "open@import.example", "deal_value": 2}])
        clock.execute(text("SET lock_timeout = '2s'"))  # waiting would fail the test
        assert fold(clock, ws) == committed  # the committed rows only
        clock.commit()
        writer.commit()
    session.expire_all()
    assert tallied(Scope(session, ws), LeadFilter()) == {
        stage_id: (2, {"USD": decimal.Decimal("7")})
    }

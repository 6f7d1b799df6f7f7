from __future__ import annotations

import datetime as dt
import decimal
import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import inboxcrm.models  # noqa: F401  (every table in the metadata)
from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import Base, Database
from inboxcrm.errors import Conflict, Forbidden, Invalid, NotFound
from inboxcrm.leads.merge import (
    EARLIEST,
    FILLED,
    HANDLED_REFERENCES,
    KEPT,
    LATEST,
    PAIRED,
    lead_to_merge,
    merge_leads,
)
from inboxcrm.leads.models import (
    Activity,
    ActivityKind,
    Lead,
    LeadEmail,
    LinkSource,
    Note,
    Temperature,
    ThreadLead,
)
from inboxcrm.leads.schemas import LeadUpdate
from inboxcrm.leads.service import LeadFilter, list_leads, update_lead
from inboxcrm.mail.models import Thread
from inboxcrm.stages.models import StageChange
from inboxcrm.tenancy import Scope
from tests.factories import (
    ActivityFactory,
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    NoteFactory,
    StageChangeFactory,
    ThreadFactory,
    ThreadLeadFactory,
)

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what "nothing changed" means."""
    session.expire_all()
    return {
        table.name: sorted(tuple(row) for row in session.execute(select(table)))
        for table in Base.metadata.sorted_tables
    }


def count(session: Session, model: type, *criteria: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0


def references_to(session: Session, lead_id: int) -> dict[str, int]:
    """How many rows of each (table, column) still point at a lead."""
    session.expire_all()
    found = {}
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "lead":
                found[f"{table.name}.{fk.parent.name}"] = (
                    session.scalar(
                        select(func.count()).select_from(table).where(fk.parent == lead_id)
                    )
                    or 0
                )
    return found


@pytest.fixture
def rep(session: Session) -> Member:
    return MemberFactory(name="Rita Rep")


@pytest.fixture
def pair(session: Session, rep: Member) -> tuple[Lead, Lead]:
    """Ann twice: a lead from her work address and one from her private addresses."""
    keep = LeadFactory(owner=rep, email="ann@acme.com", name="Ann Smith", tags=["vip"], company="")
    other = LeadFactory(
        owner=rep,
        email="ann.smith@gmail.com",
        other_emails=["ann@home.example"],
        name="Ann Smith",
        tags=["VIP", "fintech"],
    )
    return keep, other


def test_everything_of_the_other_lead_moves_and_nothing_is_lost(
    session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    third = LeadFactory(owner=rep, email="bob@acme.com")
    box = MailboxFactory(member=rep)
    only_theirs = ThreadFactory(mailbox=box, leads=[other])
    theirs_detached = ThreadFactory(mailbox=box, leads=[other], detached=True)
    group = ThreadFactory(mailbox=box, leads=[third, other])  # primary is Bob's: stays his
    shared_attached = ThreadFactory(mailbox=box, leads=[keep])
    # Detached on one side: stays detached.
    ThreadLeadFactory(thread=shared_attached, lead=other, detached=True)
    shared_manual = ThreadFactory(mailbox=box, leads=[other])
    ThreadLeadFactory(thread=shared_manual, lead=keep, detached=True)
    both_ok = ThreadFactory(mailbox=box, leads=[keep])
    ThreadLeadFactory(thread=both_ok, lead=other, source=LinkSource.manual)
    for i in range(3):
        NoteFactory(lead=other, body=f"call notes {i}", at=NOW - DAY * i)
    NoteFactory(lead=keep, body="met at the fair")
    ActivityFactory(lead=other, kind=ActivityKind.message_in, at=NOW - 3 * DAY)
    ActivityFactory(lead=other, kind=ActivityKind.reply, at=NOW - 2 * DAY)
    StageChangeFactory(lead=other, stage="MQL", by=rep, at=NOW - 5 * DAY)
    StageChangeFactory(lead=other, stage="SQL", by=rep, at=NOW - 4 * DAY)
    scope = Scope(session, rep.workspace_id)
    before = {model: count(session, model) for model in (LeadEmail, Note, Activity, Thread)}
    stage_changes = count(session, StageChange)
    other_id = other.id

    merged = merge_leads(scope, keep, other, rep, NOW)
    session.commit()

    assert merged.summary() == (
        "Merged Ann Smith into Ann Smith: 2 addresses, 3 threads, 3 notes, 2 activities, "
        "2 stage changes, 1 tag."
    )
    assert session.get(Lead, other_id) is None
    assert {k: v for k, v in references_to(session, other_id).items() if v} == {}
    # Rows are moved, never dropped or copied.
    assert {model: count(session, model) for model in (LeadEmail, Note, Activity, Thread)} == (
        before
    )
    assert count(session, StageChange) == stage_changes + 1  # the merge itself

    keep = session.get(Lead, keep.id)  # type: ignore[assignment]
    assert keep.email == "ann@acme.com"  # the kept lead's primary stays primary
    assert [e.email for e in keep.emails] == [
        "ann@acme.com",
        "ann.smith@gmail.com",
        "ann@home.example",
    ]
    assert [t.name for t in keep.tags] == ["fintech", "vip"]
    links = {
        link.thread_id: (link.detached, link.source)
        for link in session.scalars(select(ThreadLead).where(ThreadLead.lead_id == keep.id))
    }
    assert links == {
        only_theirs.id: (False, LinkSource.mail),
        theirs_detached.id: (True, LinkSource.mail),
        group.id: (False, LinkSource.mail),
        shared_attached.id: (True, LinkSource.mail),
        shared_manual.id: (True, LinkSource.mail),
        both_ok.id: (False, LinkSource.manual),
    }
    primaries = {
        t.id: t.primary_lead_id
        for t in session.scalars(select(Thread).where(Thread.mailbox_id == box.id))
    }
    assert primaries[only_theirs.id] == keep.id
    assert primaries[shared_manual.id] == keep.id
    assert primaries[group.id] == third.id
    assert sorted(n.body for n in session.scalars(select(Note).where(Note.lead_id == keep.id))) == [
        "call notes 0",
        "call notes 1",
        "call notes 2",
        "met at the fair",
    ]
    assert count(session, Activity, Activity.lead_id == keep.id) == 2


def test_the_stage_history_moves_and_records_the_merge(
    session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    StageChangeFactory(lead=other, stage="MQL", by=rep, at=NOW - 5 * DAY)
    StageChangeFactory(lead=other, stage="SQL", by=rep, at=NOW - 4 * DAY)
    StageChangeFactory(lead=keep, stage="SAL", by=rep, at=NOW - 3 * DAY)
    merge_leads(Scope(session, rep.workspace_id), keep, other, rep, NOW)
    session.commit()
    history = [
        (c.from_stage.name if c.from_stage else None, c.to_stage.name if c.to_stage else None)
        for c in session.scalars(
            select(StageChange)
            .where(StageChange.lead_id == keep.id)
            .order_by(StageChange.changed_at, StageChange.id)
        )
    ]
    # Ann's private-address lead went to SQL; the kept lead stays in SAL, and says why.
    assert history == [("Lead", "MQL"), ("MQL", "SQL"), ("Lead", "SAL"), ("SQL", "SAL")]
    last = session.scalars(
        select(StageChange).where(StageChange.lead_id == keep.id).order_by(StageChange.id.desc())
    ).first()
    assert last is not None
    assert (last.changed_at, last.member_id) == (NOW, rep.id)
    assert last.detail == "merged Ann Smith <ann.smith@gmail.com> into this lead"
    assert keep.stage.name == "SAL"


def test_empty_fields_are_filled_and_times_and_scores_combine(
    session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    colleague = MemberFactory(workspace=rep.workspace)
    scope = Scope(session, rep.workspace_id)
    keep.title, keep.next_step, keep.owner_id = "CFO", "Send the proposal", None
    keep.first_inbound_at, keep.first_response_at = (
        NOW - 3 * DAY,
        NOW - 3 * DAY + dt.timedelta(hours=2),
    )
    keep.last_contacted_at, keep.last_replied_at = NOW - 2 * DAY, None
    keep.score, keep.temperature, keep.needs_review = 10, Temperature.cold, True
    update_lead(
        scope,
        other,
        LeadUpdate(
            title="Head of Finance",
            phone="+44 20 7946 0000",
            company="Acme Ltd",
            deal_value=decimal.Decimal("12000.50"),
            currency="GBP",
            budget="50k",
            authority="signs",
            need="forecasting",
            timeline="Q1",
            next_step="Demo",
            timezone="Europe/London",
            owner_id=colleague.id,
        ),
        rep,
        NOW - 10 * DAY,
    )
    other.first_inbound_at, other.first_response_at = NOW - 9 * DAY, None
    other.last_contacted_at, other.last_replied_at = NOW - DAY, NOW - DAY
    other.score, other.temperature = 42, Temperature.warm
    other.created_at = NOW - 30 * DAY
    session.commit()

    # The other lead is now the colleague's: a rep may not merge it (ownership holds), an
    # admin may.
    admin = MemberFactory(workspace=rep.workspace, role=Role.admin)
    merge_leads(scope, keep, other, admin, NOW)
    session.commit()
    session.expire_all()
    keep = session.get(Lead, keep.id)  # type: ignore[assignment]

    assert (keep.name, keep.title, keep.next_step) == ("Ann Smith", "CFO", "Send the proposal")
    assert (keep.phone, keep.timezone) == ("+44 20 7946 0000", "Europe/London")
    assert keep.company is not None
    assert keep.company.name == "Acme Ltd"
    assert (keep.deal_value, keep.currency) == (decimal.Decimal("12000.50"), "GBP")
    assert (keep.budget, keep.authority, keep.need, keep.timeline) == (
        "50k",
        "signs",
        "forecasting",
        "Q1",
    )
    assert keep.owner_id == colleague.id  # the kept lead had none
    assert keep.first_inbound_at == NOW - 9 * DAY
    assert keep.first_response_at == NOW - 3 * DAY + dt.timedelta(hours=2)
    assert (keep.last_contacted_at, keep.last_replied_at) == (NOW - DAY, NOW - DAY)
    assert (keep.score, keep.temperature) == (42, Temperature.warm)
    assert keep.created_at == NOW - 30 * DAY
    assert keep.needs_review is False
    assert keep.updated_at == NOW
    # Search finds the kept lead by any address it took over, and the other one is gone.
    for q in ("ann.smith@gmail", "home.example", "acme ltd"):
        found = list_leads(scope, LeadFilter(q=q)).leads
        assert [lead.id for lead in found] == [keep.id], q


def test_the_kept_leads_own_values_win(
    session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    scope = Scope(session, rep.workspace_id)
    update_lead(scope, keep, LeadUpdate(title="CFO", deal_value=decimal.Decimal(5)), rep, NOW)
    update_lead(scope, other, LeadUpdate(title="Intern", deal_value=decimal.Decimal(900)), rep, NOW)
    keep.score, other.score = 30, 20
    session.commit()
    merge_leads(scope, keep, other, rep, NOW)
    session.commit()
    assert (keep.title, keep.deal_value, keep.score) == ("CFO", decimal.Decimal(5), 30)


def test_every_foreign_key_to_a_lead_is_handled_by_merge() -> None:
    """A new table pointing at leads must be taught to merge, or merging would lose its rows
    to the cascade (or fail on them)."""
    in_schema = {
        (table.name, fk.parent.name)
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "lead"
    }
    assert in_schema == HANDLED_REFERENCES


def test_every_lead_column_has_a_merge_rule() -> None:
    ruled = KEPT | set(FILLED) | set(EARLIEST) | set(LATEST) | set(PAIRED) | set(PAIRED.values())
    assert set(Lead.__table__.columns.keys()) == ruled


def test_refused_merges_change_nothing(
    session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    NoteFactory(lead=other, body="keep me")
    ThreadFactory(mailbox=MailboxFactory(member=rep), leads=[other])
    outsider = LeadFactory(email="ann@acme.com")  # same address, another workspace
    marketer = MemberFactory(workspace=rep.workspace, role=Role.marketer)
    scope = Scope(session, rep.workspace_id)
    before = snapshot(session)
    attempts: list[tuple[type[Exception], Lead, Lead, Member, str]] = [
        (Conflict, keep, keep, rep, "itself"),
        (NotFound, keep, outsider, rep, f"lead {outsider.id} not found"),
        (NotFound, outsider, keep, rep, f"lead {outsider.id} not found"),
        (Forbidden, keep, other, marketer, "marketers cannot merge"),
    ]
    for error, a, b, actor, message in attempts:
        with pytest.raises(error, match=message):
            merge_leads(scope, a, b, actor, NOW)
        session.rollback()
        assert snapshot(session) == before


def test_a_merged_lead_cannot_be_merged_again(
    session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    keep, other = pair
    scope = Scope(session, rep.workspace_id)
    other_id = other.id
    merge_leads(scope, keep, other, rep, NOW)
    session.commit()
    with pytest.raises(NotFound, match=f"lead {other_id} not found"):
        lead_to_merge(scope, str(other_id))
    # An address it had now finds the kept lead.
    assert lead_to_merge(scope, "Ann.Smith@GMAIL.com").id == keep.id


@pytest.mark.parametrize(
    "text",
    ["ann.smith@gmail.com", " ANN@Home.Example ", "{id}", "#{id}", "/leads/{id}",
     "http://127.0.0.1:5000/leads/{id}/"],
)  # fmt: skip
def test_the_other_lead_is_found_by_address_id_or_page_url(
    session: Session, rep: Member, pair: tuple[Lead, Lead], text: str
) -> None:
    _keep, other = pair
    found = lead_to_merge(Scope(session, rep.workspace_id), text.format(id=other.id))
    assert found.id == other.id


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", Invalid, "enter the other lead's email address or id"),
        ("   ", Invalid, "enter the other lead's email address or id"),
        ("nobody@acme.com", NotFound, "no lead has the address nobody@acme.com"),
        ("ann@", Invalid, "invalid email address"),
        ("Ann Smith", Invalid, "neither an email address nor a lead id"),
        ("999999", NotFound, "lead 999999 not found"),
    ],
)
def test_naming_the_other_lead_badly_says_what_is_wrong(
    session: Session, rep: Member, pair: tuple[Lead, Lead], text: str, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        lead_to_merge(Scope(session, rep.workspace_id), text)


def test_another_workspaces_lead_cannot_be_named(session: Session, rep: Member) -> None:
    outsider = LeadFactory(email="eve@elsewhere.example")
    scope = Scope(session, rep.workspace_id)
    with pytest.raises(NotFound):
        lead_to_merge(scope, str(outsider.id))
    with pytest.raises(NotFound):
        lead_to_merge(scope, "eve@elsewhere.example")


def test_opposite_merges_at_once_leave_one_lead_and_a_clear_error(
    db: Database, session: Session, rep: Member, pair: tuple[Lead, Lead]
) -> None:
    """Two reps merge Ann into Ann, each keeping a different one. The second waits for the
    first's row locks (PostgreSQL), or reads after its commit (SQLite), and finds its lead gone."""
    keep, other = pair
    NoteFactory(lead=other, body="from the private lead")
    keep_id, other_id = keep.id, other.id
    with db.sessions() as first, db.sessions() as second:
        first_scope, second_scope = Scope(first, rep.workspace_id), Scope(second, rep.workspace_id)
        mine = (first.get_one(Lead, keep_id), first.get_one(Lead, other_id))
        theirs = (second.get_one(Lead, other_id), second.get_one(Lead, keep_id))
        merge_leads(first_scope, *mine, first.get_one(Member, rep.id), NOW)
        second_rep = second.get_one(Member, rep.id)
        outcome: list[BaseException | None] = []

        def attempt() -> None:
            try:
                merge_leads(second_scope, *theirs, second_rep, NOW)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        if first.get_bind().dialect.name == "postgresql":
            waiting = threading.Thread(target=attempt)
            waiting.start()  # blocks on the first merge's row locks until it commits
            first.commit()
            waiting.join()
        else:
            first.commit()
            attempt()
        assert len(outcome) == 1
        assert isinstance(outcome[0], NotFound), outcome
        second.rollback()
    session.expire_all()
    assert session.scalars(select(Lead.id)).all() == [keep_id]
    assert count(session, LeadEmail, LeadEmail.lead_id == keep_id) == 3
    assert count(session, Note, Note.lead_id == keep_id) == 1

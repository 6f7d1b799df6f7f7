from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.errors import Conflict, Forbidden, Invalid, NotFound
from inboxcrm.leads.models import Company, Lead, LeadEmail, Tag
from inboxcrm.leads.schemas import LeadCreate, LeadUpdate
from inboxcrm.leads.service import (
    BulkChange,
    LeadFilter,
    bulk_update,
    create_lead,
    find_lead_by_email,
    list_leads,
    update_lead,
)
from inboxcrm.stages.models import StageChange
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def test_a_new_lead_is_normalized_owned_and_in_the_entry_stage(session: Session) -> None:
    rep = MemberFactory()
    scope = Scope(session, rep.workspace_id)
    lead = create_lead(
        scope, LeadCreate(email=" Ann@Acme.CO.uk ", name="Ann", company="Acme"), rep, NOW
    )
    assert lead.email == "ann@acme.co.uk"
    assert lead.owner_id == rep.id
    assert lead.stage.name == "Lead"
    assert lead.company is not None
    assert [d.domain for d in lead.company.domains] == ["acme.co.uk"]
    assert lead.created_at == NOW
    # Another person at the same company is matched by domain.
    colleague = create_lead(scope, LeadCreate(email="bo@eu.acme.co.uk"), rep, NOW)
    assert colleague.company_id == lead.company_id


def test_every_address_belongs_to_one_lead_per_workspace(session: Session) -> None:
    rep = MemberFactory()
    scope = Scope(session, rep.workspace_id)
    create_lead(scope, LeadCreate(email="ann@acme.com", other_emails=["ann.p@acme.com"]), rep, NOW)
    session.commit()
    for email in ("ANN@acme.com", "ann.p@acme.com"):
        with pytest.raises(Conflict):
            create_lead(scope, LeadCreate(email=email), rep, NOW)
        session.rollback()
    assert find_lead_by_email(scope, "Ann.P@ACME.com") is not None
    # Another workspace may know the same person.
    other = MemberFactory()
    create_lead(Scope(session, other.workspace_id), LeadCreate(email="ann@acme.com"), other, NOW)
    assert session.scalar(select(func.count()).select_from(LeadEmail)) == 3


def test_moving_a_lead_records_who_moved_it(session: Session) -> None:
    lead = LeadFactory()
    rep = lead.owner
    assert rep is not None
    scope = Scope(session, lead.workspace_id)
    sql = next(s for s in list_stages(scope) if s.name == "SQL")
    update_lead(scope, lead, LeadUpdate(stage_id=sql.id), rep, NOW)
    update_lead(scope, lead, LeadUpdate(stage_id=sql.id), rep, NOW)  # no change, no record
    changes = session.scalars(select(StageChange).where(StageChange.lead_id == lead.id)).all()
    assert [(c.from_stage.name, c.to_stage.name, c.member_id) for c in changes] == [  # type: ignore[union-attr]
        ("Lead", "SQL", rep.id)
    ]


def test_a_lost_reason_is_kept_only_in_a_lost_stage(session: Session) -> None:
    lead = LeadFactory()
    scope = Scope(session, lead.workspace_id)
    stages = {s.name: s for s in list_stages(scope)}
    update_lead(
        scope, lead, LeadUpdate(stage_id=stages["Lost"].id, lost_reason="budget"), lead.owner, NOW
    )  # type: ignore[arg-type]
    assert lead.lost_reason == "budget"
    update_lead(scope, lead, LeadUpdate(stage_id=stages["Nurture"].id), lead.owner, NOW)  # type: ignore[arg-type]
    assert lead.lost_reason is None


def test_marketers_cannot_change_pipeline_fields(session: Session) -> None:
    lead = LeadFactory()
    marketer = MemberFactory(workspace=lead.owner.workspace, role=Role.marketer)  # type: ignore[union-attr]
    scope = Scope(session, lead.workspace_id)
    with pytest.raises(Forbidden, match="marketers cannot change a lead's owner"):
        update_lead(scope, lead, LeadUpdate(owner_id=marketer.id), marketer, NOW)
    update_lead(scope, lead, LeadUpdate(tags=["webinar"]), marketer, NOW)
    assert [t.name for t in lead.tags] == ["webinar"]


def test_owner_and_stage_must_belong_to_the_workspace(session: Session) -> None:
    lead = LeadFactory()
    outsider = MemberFactory()
    scope = Scope(session, lead.workspace_id)
    with pytest.raises(Invalid, match="no member"):
        update_lead(scope, lead, LeadUpdate(owner_id=outsider.id), lead.owner, NOW)  # type: ignore[arg-type]
    foreign_stage = list_stages(Scope(session, outsider.workspace_id))[1]
    with pytest.raises(Invalid, match="no stage"):
        update_lead(scope, lead, LeadUpdate(stage_id=foreign_stage.id), lead.owner, NOW)  # type: ignore[arg-type]


def test_tags_are_shared_case_insensitively(session: Session) -> None:
    rep = MemberFactory()
    a = LeadFactory(owner=rep, tags=["Enterprise"])
    b = LeadFactory(owner=rep, tags=["enterprise", " pilot  program "])
    assert a.tags[0].id == b.tags[0].id
    assert sorted(t.name for t in b.tags) == ["Enterprise", "pilot program"]
    assert session.scalar(select(func.count()).select_from(Tag)) == 2


def test_search_finds_substrings_of_name_email_and_company(session: Session) -> None:
    rep = MemberFactory()
    LeadFactory(owner=rep, email="zoe@northwind.example", name="Zoë Quinn", company="Fabrikam")
    LeadFactory(owner=rep, email="max@contoso.example", name="Max Power")
    scope = Scope(session, rep.workspace_id)

    def names(q: str) -> list[str]:
        return [lead.name for lead in list_leads(scope, LeadFilter(q=q)).leads]

    assert names("northw") == ["Zoë Quinn"]
    assert names("BRIKA") == ["Zoë Quinn"]  # company, any case
    assert names("x pow") == ["Max Power"]
    assert names("qu") == ["Zoë Quinn"]  # short needles work too
    assert names('"; drop table lead; --') == []
    assert names("100%") == []


def test_search_follows_renamed_and_deleted_leads(session: Session) -> None:
    rep = MemberFactory()
    lead = LeadFactory(owner=rep, name="Original Name")
    scope = Scope(session, rep.workspace_id)
    update_lead(scope, lead, LeadUpdate(name="Renamed Person"), rep, NOW)
    session.commit()
    assert list_leads(scope, LeadFilter(q="original")).leads == []
    assert [x.id for x in list_leads(scope, LeadFilter(q="renamed")).leads] == [lead.id]
    session.delete(lead)
    session.commit()
    assert list_leads(scope, LeadFilter(q="renamed")).leads == []


def test_filters_sort_and_pages(session: Session) -> None:
    rep = MemberFactory()
    other = MemberFactory(workspace=rep.workspace)
    for i in range(7):
        lead = LeadFactory(
            owner=rep if i % 2 else other, name=f"Lead {i}", tags=["vip"] if i < 3 else []
        )
        lead.score = i * 10
    session.commit()
    scope = Scope(session, rep.workspace_id)
    page = list_leads(scope, LeadFilter(sort="-score", per_page=2, page=2))
    assert [x.score for x in page.leads] == [40, 30]
    assert (page.total, page.pages, page.exact) == (7, 4, True)
    mine = list_leads(scope, LeadFilter(owner_id=rep.id))
    assert {x.owner_id for x in mine.leads} == {rep.id}
    assert mine.total == 3
    assert list_leads(scope, LeadFilter(tag="VIP")).total == 3
    assert list_leads(scope, LeadFilter(page=99)).leads == []
    with pytest.raises(Invalid):
        LeadFilter(sort="password")
    with pytest.raises(Invalid):
        LeadFilter(page=0)


def test_bulk_update_changes_all_or_nothing(session: Session) -> None:
    rep = MemberFactory()
    colleague = MemberFactory(workspace=rep.workspace)
    leads = [LeadFactory(owner=rep) for _ in range(3)]
    scope = Scope(session, rep.workspace_id)
    mql = list_stages(scope)[1]
    count = bulk_update(
        scope,
        [x.id for x in leads],
        BulkChange(owner_id=colleague.id, stage_id=mql.id, add_tag="q4"),
        rep,
        NOW,
    )
    session.commit()
    assert count == 3
    for lead in leads:
        session.refresh(lead)
        assert (lead.owner_id, lead.stage_id, [t.name for t in lead.tags]) == (
            colleague.id,
            mql.id,
            ["q4"],
        )
    foreign = LeadFactory()
    with pytest.raises(NotFound, match="not found"):
        bulk_update(scope, [leads[0].id, foreign.id], BulkChange(unassign=True), rep, NOW)
    session.rollback()
    assert session.get(Lead, leads[0].id).owner_id == colleague.id  # type: ignore[union-attr]
    assert session.get(Lead, foreign.id).owner_id == foreign.owner_id  # type: ignore[union-attr]


def test_a_company_is_found_by_name_before_it_is_created(session: Session) -> None:
    rep = MemberFactory()
    LeadFactory(owner=rep, email="a@gmail.com", company="Solo Consulting")
    LeadFactory(owner=rep, email="b@gmail.com", company="solo consulting")
    companies = session.scalars(select(Company)).all()
    assert [c.name for c in companies] == ["Solo Consulting"]
    assert companies[0].domains == []  # free mail says nothing about a company


def test_large_search_results_say_more_and_keep_their_order(session: Session) -> None:

    rep = MemberFactory()
    for i in range(8):
        lead = LeadFactory(owner=rep, name=f"Acme Buyer {i}", company="Acme", tags=["vip"])
        lead.last_contacted_at = NOW - dt.timedelta(days=(i * 5) % 8)
    LeadFactory(owner=rep, name="Someone Else")
    session.commit()
    scope = Scope(session, rep.workspace_id)
    flt = LeadFilter(q="acme", sort="-last_contacted", per_page=4)
    small = list_leads(scope, flt)  # the set plan
    large = list_leads(scope, flt, narrowed_limit=3)  # the sort-index plan
    assert (large.total, large.exact) == (3, False)
    assert [x.id for x in large.leads] == [x.id for x in small.leads]
    expected = sorted(
        (x for x in session.scalars(select(Lead)) if x.name.startswith("Acme")),
        key=lambda x: (x.last_contacted_at, x.id),
        reverse=True,
    )
    assert [x.id for x in large.leads] == [x.id for x in expected[:4]]
    tagged = list_leads(scope, LeadFilter(tag="vip", sort="name", page=2, per_page=3))
    assert [x.name for x in tagged.leads] == ["Acme Buyer 3", "Acme Buyer 4", "Acme Buyer 5"]

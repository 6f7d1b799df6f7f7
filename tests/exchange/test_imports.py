"""Importing leads from CSV files as HubSpot and Pipedrive export them: the dry run's
counts and refused rows, the run, matching by any address, companies by domain, undo."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import Database
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.events import Event, EventType
from inboxcrm.exchange import imports
from inboxcrm.exchange.models import ImportState, LeadImport
from inboxcrm.leads.models import Company, Lead, LeadEmail, Note
from inboxcrm.leads.service import find_lead_by_email
from inboxcrm.stages.models import StageChange
from inboxcrm.tenancy import Scope
from tests.factories import CompanyFactory, LeadFactory, MemberFactory

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Company Name,Job Title,Phone Number,Lifecycle Stage,"
    "Contact owner,Favourite colour\r\n"
    "101,Ann,Lee,ann@acme.co.uk,Acme,CTO,+44 20 7946 0958,MQL,{owner},teal\r\n"
    "102,Bob,Stone,bob@globex.example,Globex,VP Sales,,SQL,,\r\n"
    '103,Cy,"Quote, Jr.",cy@initech.example,Initech,"Head of\nOps",,Lead,,\r\n'
    "104,Dee,Dup,ann@acme.co.uk,Acme,,,,,\r\n"
    "105,Eve,Bad,not-an-address,,,,,,\r\n"
    "106,Fay,Nostage,fay@acme.co.uk,Acme,,,Customer,,\r\n"
    '107,Gus,Formula,gus@acme.co.uk,=HYPERLINK("http://x"),,,,,\r\n'
    "108,Hal,Noowner,hal@acme.co.uk,,,,,nobody@else.example,\r\n"
)


def _admin(session: Session) -> Member:
    return MemberFactory(role=Role.admin, email="admin@team.example")


def _import(
    session: Session, admin: Member, text: str | bytes, name: str = "contacts.csv"
) -> LeadImport:
    data = text.encode() if isinstance(text, str) else text
    imp = imports.upload(Scope(session, admin.workspace_id), admin, name, data, NOW)
    session.commit()
    return imp


def _plan(session: Session, admin: Member, imp: LeadImport) -> LeadImport:
    imports.dry_run(Scope(session, admin.workspace_id), imp, admin)
    session.commit()
    return imp


def _run(db: Database, session: Session, admin: Member, imp: LeadImport) -> LeadImport:
    imports.start(imp, admin, NOW)
    session.commit()
    assert imports.work(db, imp.id, NOW)
    session.expire_all()
    return session.get_one(LeadImport, imp.id)


def test_a_hubspot_export_is_mapped_dry_run_and_imported(db: Database, session: Session) -> None:
    admin = _admin(session)
    owner = MemberFactory(workspace=admin.workspace, email="rep@team.example", name="Rae Rep")
    LeadFactory(owner=owner, email="bob@globex.example", name="Bob", title="Sales")
    imp = _import(session, admin, HUBSPOT.format(owner="Rae Rep"))
    assert imp.mapping == [
        "note",
        "first_name",
        "last_name",
        "email",
        "company",
        "title",
        "phone",
        "stage",
        "owner",
        "note",
    ]
    _plan(session, admin, imp)
    assert (imp.rows, imp.created, imp.updated, imp.merged, imp.refused) == (8, 2, 1, 0, 5)
    reasons = {r["row"]: r["reason"] for r in imp.refusals}
    assert reasons[6] == "ann@acme.co.uk is also in row 2"
    assert "'not-an-address' is not an email address" in reasons[7]
    assert reasons[8].startswith("no stage 'Customer'")
    assert "looks like a spreadsheet formula" in reasons[9]
    assert "no member 'nobody@else.example'" in reasons[10]
    assert session.scalar(select(func.count()).select_from(Lead)) == 1  # a dry run changes nothing

    done = _run(db, session, admin, imp)
    assert done.state is ImportState.done
    assert (done.created, done.updated, done.merged, done.refused) == (2, 1, 0, 5)
    scope = Scope(session, admin.workspace_id)
    ann = find_lead_by_email(scope, "ann@acme.co.uk")
    assert ann is not None
    assert (ann.name, ann.title, ann.phone, ann.stage.name, ann.source) == (
        "Ann Lee",
        "CTO",
        "+44 20 7946 0958",
        "MQL",
        "import",
    )
    assert ann.owner_id == owner.id  # by the member's name, as Pipedrive and HubSpot give it
    assert ann.company is not None
    assert ann.company.name == "Acme"
    assert [d.domain for d in ann.company.domains] == ["acme.co.uk"]
    assert ann.link_mail_at == NOW  # matched to the mail synced before it
    note = session.scalars(select(Note).where(Note.lead_id == ann.id)).one()
    assert "Record ID: 101" in note.body
    assert "Favourite colour: teal" in note.body
    cy = find_lead_by_email(scope, "cy@initech.example")
    assert cy is not None
    assert cy.title == "Head of\nOps"
    assert cy.name == "Cy Quote, Jr."
    bob = find_lead_by_email(scope, "bob@globex.example")
    assert bob is not None
    assert bob.title == "VP Sales"
    assert bob.stage.name == "SQL"
    moves = session.scalars(select(StageChange).where(StageChange.lead_id == bob.id)).all()
    assert [m.source.value for m in moves] == ["import"]


def test_a_lead_is_matched_by_any_of_its_addresses_and_the_row_adds_its_own(
    db: Database, session: Session
) -> None:
    admin = _admin(session)
    lead = LeadFactory(owner=admin, email="pat@acme.example", other_emails=["p.old@acme.example"])
    text = "Email,Other emails,Title\r\np.old@acme.example,pat@home.example,CEO\r\n"
    imp = _plan(session, admin, _import(session, admin, text))
    assert (imp.created, imp.updated, imp.merged) == (0, 0, 1)
    _run(db, session, admin, imp)
    session.refresh(lead)
    assert {e.email for e in lead.emails} == {
        "pat@acme.example",
        "p.old@acme.example",
        "pat@home.example",
    }
    assert lead.email == "pat@acme.example"
    assert lead.title == "CEO"


def test_a_row_whose_addresses_are_two_leads_is_refused(db: Database, session: Session) -> None:
    admin = _admin(session)
    one = LeadFactory(owner=admin, email="one@acme.example")
    two = LeadFactory(owner=admin, email="two@acme.example")
    imp = _plan(
        session, admin, _import(session, admin, "Email\r\none@acme.example; two@acme.example\r\n")
    )
    assert imp.refused == 1
    assert (
        imp.refusals[0]["reason"]
        == f"its addresses belong to 2 leads ({one.id}, {two.id}): merge them first"
    )


def test_companies_are_found_by_registrable_domain(db: Database, session: Session) -> None:
    admin = _admin(session)
    acme = CompanyFactory(workspace=admin.workspace, name="ACME Holdings", domains=["acme.co.uk"])
    text = "Email,Company\r\nann@mail.acme.co.uk,Acme\r\njo@gmail.com,Freelance Jo\r\n"
    _run(db, session, admin, _plan(session, admin, _import(session, admin, text)))
    scope = Scope(session, admin.workspace_id)
    ann = find_lead_by_email(scope, "ann@mail.acme.co.uk")
    jo = find_lead_by_email(scope, "jo@gmail.com")
    assert ann is not None
    assert ann.company_id == acme.id
    assert jo is not None
    assert jo.company is not None
    assert jo.company.name == "Freelance Jo"
    assert jo.company.domains == []  # a free-mail domain names no company


def test_undo_removes_what_it_made_and_puts_back_what_it_changed(
    db: Database, session: Session
) -> None:
    admin = _admin(session)
    kept = LeadFactory(owner=admin, email="kim@acme.example", name="Kim", title="Engineer")
    before_stage = kept.stage_id
    companies_before = session.scalar(select(func.count()).select_from(Company))
    text = (
        "Email,Name,Title,Stage,Tags,Deal value,Notes\r\n"
        'kim@acme.example,Kim Park,CTO,SQL,vip,"$12,500.00",met at the fair\r\n'
        "new@newco.example,New Person,,,,,\r\n"
    )
    imp = _run(db, session, admin, _plan(session, admin, _import(session, admin, text)))
    session.refresh(kept)
    assert (kept.name, kept.title, kept.stage.name, str(kept.deal_value)) == (
        "Kim Park",
        "CTO",
        "SQL",
        "12500.00",
    )
    assert [t.name for t in kept.tags] == ["vip"]
    imports.start_undo(imp, admin, NOW)
    session.commit()
    assert imports.work(db, imp.id, NOW)
    session.expire_all()
    kept = session.get_one(Lead, kept.id)
    assert (kept.name, kept.title, kept.stage_id, kept.deal_value) == (
        "Kim",
        "Engineer",
        before_stage,
        None,
    )
    assert kept.tags == []
    assert session.scalars(select(Note).where(Note.lead_id == kept.id)).all() == []
    assert find_lead_by_email(Scope(session, admin.workspace_id), "new@newco.example") is None
    assert session.scalar(select(func.count()).select_from(Company)) == companies_before
    assert session.get_one(LeadImport, imp.id).state is ImportState.undone
    assert "kim park" not in kept.search_text


def test_a_run_killed_midway_goes_on_from_its_last_batch(db: Database, session: Session) -> None:
    admin = _admin(session)
    rows = "".join(f"p{i}@bulk.example,Person {i}\r\n" for i in range(2500))
    imp = _plan(session, admin, _import(session, admin, "Email,Name\r\n" + rows))
    imports.start(imp, admin, NOW)
    session.commit()
    seen: list[int] = []

    def die_after_the_first_batch(done: int, total: int) -> None:
        seen.append(done)
        raise KeyboardInterrupt  # the process killed right after a batch committed

    with pytest.raises(KeyboardInterrupt):
        imports.work(db, imp.id, NOW, progress=die_after_the_first_batch)
    assert seen == [1000]
    assert session.scalar(select(func.count()).select_from(Lead)) == 1000
    assert imports.work(db, imp.id, NOW)
    session.expire_all()
    done = session.get_one(LeadImport, imp.id)
    assert (done.state, done.created, done.done) == (ImportState.done, 2500, 2500)
    assert session.scalar(select(func.count()).select_from(LeadEmail)) == 2500
    created = session.scalar(
        select(func.count()).select_from(Event).where(Event.type == EventType.lead_created)
    )
    assert created == 2500


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "this is not a CSV file: it holds binary data",
        ),
        (
            ",".join(f"c{i}" for i in range(10_000)).encode(),
            "the file has 10,000 columns; at most 200",
        ),
        (b"x" * (64 * 1024 * 1024 + 1), "the file is 64 MB; at most 64 MB"),
    ],
)
def test_a_file_that_is_no_csv_of_leads_is_refused(
    session: Session, data: bytes, message: str
) -> None:
    admin = _admin(session)
    with pytest.raises(Invalid) as refused:
        _import(session, admin, data)
    assert refused.value.message == message
    assert session.scalar(select(func.count()).select_from(LeadImport)) == 0


def test_a_mapping_without_email_or_with_a_field_twice_is_refused(session: Session) -> None:
    admin = _admin(session)
    imp = _import(session, admin, "Email,Name,Full name\r\na@b.example,A,B\r\n")
    with pytest.raises(Invalid, match="no column maps to Email"):
        imports.set_mapping(imp, admin, ["note", "name", "note"])
    with pytest.raises(Invalid, match="both map to Name"):
        imports.set_mapping(imp, admin, ["email", "name", "name"])
    with pytest.raises(Invalid, match="unknown field 'shoe_size'"):
        imports.set_mapping(imp, admin, ["email", "shoe_size", "note"])


def test_only_admins_import(session: Session) -> None:
    rep = MemberFactory(role=Role.rep)
    with pytest.raises(Forbidden, match="only admins can import leads"):
        _import(session, rep, "Email\r\na@b.example\r\n")

"""Who in synced mail becomes a lead, how threads link to leads, and activities."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import LeadPolicy, Mailbox, Role, Workspace
from inboxcrm.leads.blocklist import normalize_pattern
from inboxcrm.leads.capture import backfill
from inboxcrm.leads.capture.backfill import link_existing_mail, recapture
from inboxcrm.leads.models import (
    Activity,
    ActivityKind,
    BlockedAddress,
    Company,
    Lead,
    LeadEmail,
    LinkSource,
    ThreadLead,
)
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import create_lead, find_lead_by_email
from inboxcrm.mail.models import Message, MessageKind, Thread
from inboxcrm.tenancy import Scope
from tests.factories import (
    BlockedAddressFactory,
    CompanyFactory,
    MailboxFactory,
    WorkspaceFactory,
    api_token,
)
from tests.support.synced import NOW, mail, sync

REP = "rita@team.example"


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(domain="team.example")


@pytest.fixture
def box(session: Session, workspace: Workspace) -> Mailbox:
    return MailboxFactory(workspace=workspace, email=REP)


def leads(session: Session) -> dict[str, Lead]:
    session.expire_all()
    return {lead.email: lead for lead in session.scalars(select(Lead)).unique()}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def policy(session: Session, workspace: Workspace, value: LeadPolicy, inboxes: list[str]) -> None:
    workspace.lead_policy = value
    workspace.lead_inboxes = inboxes
    session.commit()


# --- who becomes a lead ----------------------------------------------------------------


def test_people_the_team_writes_to_become_leads_with_name_company_and_owner(
    session: Session, box: Mailbox
) -> None:
    sync(
        session,
        box,
        mail(REP, '"Berg, Nina" <Nina.Berg@Vandelay.co.uk>', cc="Bo <bo@gmail.com>", sent=True),
    )
    found = leads(session)
    assert set(found) == {"nina.berg@vandelay.co.uk", "bo@gmail.com"}
    nina = found["nina.berg@vandelay.co.uk"]
    assert nina.name == "Berg, Nina"  # a comma in a quoted name is one name
    assert nina.company is not None
    assert nina.company.name == "Vandelay"
    assert [d.domain for d in nina.company.domains] == ["vandelay.co.uk"]
    assert found["bo@gmail.com"].company is None  # free mail says nothing about a company
    assert nina.source == "mail"
    assert nina.needs_review is True
    assert nina.owner_id == box.member_id
    assert nina.stage.position == 0
    assert nina.created_at == NOW
    assert "vandelay" in nina.search_text


def test_a_stranger_writing_in_is_not_a_lead_until_the_team_replies(
    session: Session, box: Mailbox
) -> None:
    sync(session, box, mail("Zed <zed@newco.example>", REP, thread="t1", minute=0))
    assert leads(session) == {}
    # The reply comes in a later batch (a full sync lists newest first, so either order).
    sync(session, box, mail(REP, "zed@newco.example", thread="t1", minute=90, sent=True))
    zed = leads(session)["zed@newco.example"]
    assert zed.name == "Zed"
    assert zed.first_inbound_at == dt.datetime(2025, 11, 23, 10, 0, tzinfo=dt.UTC)
    assert zed.first_response_at == dt.datetime(2025, 11, 23, 11, 30, tzinfo=dt.UTC)
    assert zed.last_contacted_at == zed.first_response_at
    kinds = sorted(a.kind for a in session.scalars(select(Activity)))
    assert kinds == [ActivityKind.message_in, ActivityKind.message_out]


def test_the_senders_of_a_thread_the_team_wrote_in_become_leads(
    session: Session, box: Mailbox
) -> None:
    # The team wrote first; a colleague of the recipient answers, uninvited.
    sync(
        session,
        box,
        mail(REP, "ann@acme.example", thread="t1", minute=0, sent=True),
        mail("Cy <cy@acme.example>", f"{REP}, ann@acme.example", thread="t1", minute=5),
    )
    assert set(leads(session)) == {"ann@acme.example", "cy@acme.example"}


def test_whoever_writes_to_a_lead_inbox_becomes_a_lead(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    policy(session, workspace, LeadPolicy.conversations, ["sales@team.example"])
    sync(
        session,
        box,
        mail("Pat <pat@prospect.example>", "Sales <SALES@team.example>", thread="t1"),
        mail("joe@other.example", REP, cc="lou@other.example", thread="t2"),
    )
    assert set(leads(session)) == {"pat@prospect.example"}


def test_a_lead_inbox_that_is_a_google_group_still_makes_leads(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    """A `sales@` Google Group adds its own list headers to every mail it hands on; they
    say how the mail reached the team, not that it is a newsletter."""
    policy(session, workspace, LeadPolicy.conversations, ["sales@team.example"])
    group = {
        "List-Id": "<sales.team.example>",
        "Precedence": "list",
        "List-Unsubscribe": "<mailto:googlegroups-manage+1+unsubscribe@googlegroups.com>",
    }
    newsletter = {"List-Id": "News <news.vendor.example>", "List-Unsubscribe": "<https://x>"}
    sync(
        session,
        box,
        mail("Pat <pat@prospect.example>", "sales@team.example", thread="t1", headers=group),
        mail("news@vendor.example", "sales@team.example", thread="t2", headers=newsletter),
    )
    assert set(leads(session)) == {"pat@prospect.example"}


def test_all_mail_makes_every_outside_person_a_lead(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    policy(session, workspace, LeadPolicy.all_mail, [])
    sync(session, box, mail("joe@other.example", REP, cc="lou@other.example, rita@team.example"))
    assert set(leads(session)) == {"joe@other.example", "lou@other.example"}


def test_match_only_links_existing_leads_and_creates_none(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    policy(session, workspace, LeadPolicy.match_only, [])
    member = box.member
    known = create_lead(
        Scope(session, workspace.id),
        LeadCreate(email="known@acme.example", other_emails=["k.alias@acme.example"]),
        member,
        NOW,
    )
    session.commit()
    sync(
        session,
        box,
        mail(REP, "K.Alias@ACME.example, new@acme.example", sent=True, minute=3),
    )
    assert set(leads(session)) == {"known@acme.example"}  # matched by another address
    link = session.scalars(select(ThreadLead)).one()
    assert (link.lead_id, link.source) == (known.id, LinkSource.mail)
    thread = session.scalars(select(Thread)).one()
    assert thread.primary_lead_id == known.id
    session.refresh(known)
    assert known.last_contacted_at == dt.datetime(2025, 11, 23, 10, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (mail(REP, "ops@team.example", sent=True), "the team's domain"),
        (mail(REP, "it@eu.team.example", sent=True), "a subdomain of the team's"),
        (mail(REP, "noreply@shop.example", sent=True), "a no-reply address"),
        (mail(REP, "do-not-reply@shop.example", sent=True), "a do-not-reply address"),
        (mail(REP, "MAILER-DAEMON@mx.example", sent=True), "a mailer-daemon"),
        (mail(REP, "bounces+123@lists.example", sent=True), "a bounce address"),
        (mail(REP, "jo@blocked.example", sent=True), "a blocked address"),
        (mail(REP, "al@eu.banned.example", sent=True), "a subdomain of a blocked domain"),
        (
            mail(REP, "cust@shop.example", sent=True, headers={"Precedence": "bulk"}),
            "bulk mail the team sent",
        ),
    ],
)
def test_never_a_lead(
    session: Session, workspace: Workspace, box: Mailbox, message: object, why: str
) -> None:
    BlockedAddressFactory(workspace=workspace, pattern="jo@blocked.example")
    BlockedAddressFactory(workspace=workspace, pattern="@banned.example")
    policy(session, workspace, LeadPolicy.all_mail, [])
    sync(session, box, message)  # type: ignore[arg-type]
    assert leads(session) == {}, why


def test_newsletters_and_auto_replies_never_become_leads(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    policy(session, workspace, LeadPolicy.all_mail, ["sales@team.example"])
    sync(
        session,
        box,
        mail("news@saas.example", REP, headers={"List-Unsubscribe": "<mailto:u@saas.example>"}),
        mail("digest@growth.example", REP, thread="t2", headers={"List-Id": "<d.growth.example>"}),
        mail("away@acme.example", "sales@team.example", thread="t3",
             headers={"Auto-Submitted": "auto-replied"}),
    )  # fmt: skip
    assert leads(session) == {}
    assert count(session, Message) == 3  # the mail is kept, only no lead is made


def test_an_out_of_office_links_to_its_lead_but_makes_no_lead_and_no_reply(
    session: Session, box: Mailbox
) -> None:
    sync(session, box, mail(REP, "ann@acme.example", thread="t1", sent=True))
    ann = leads(session)["ann@acme.example"]
    # Outlook's: no Auto-Submitted, a null return path and the rule's loop header.
    outlook = {
        "Return-Path": "<>",
        "X-Auto-Response-Suppress": "All",
        "X-MS-Exchange-Inbox-Rules-Loop": "ann@acme.example",
    }
    sync(
        session,
        box,
        mail("Ann <ann@acme.example>", REP, thread="t2", minute=1, headers=outlook,
             subject="Automatic reply: Hello"),
        # Someone nobody wrote to answers from their vacation in the team's thread: were
        # it their own words, they would become a lead.
        mail("Zed <zed@newco.example>", REP, thread="t1", minute=2,
             headers={"Auto-Submitted": "auto-replied"}),
    )  # fmt: skip
    assert set(leads(session)) == {"ann@acme.example"}
    kinds = {m.from_addr: m.kind for m in session.scalars(select(Message))}
    assert kinds == {
        REP: MessageKind.person,
        "Ann <ann@acme.example>": MessageKind.auto_reply,
        "Zed <zed@newco.example>": MessageKind.auto_reply,
    }
    away = session.scalars(select(Thread).where(Thread.gmail_id == "t2")).one()
    assert away.primary_lead_id == ann.id
    assert session.scalars(
        select(ThreadLead.lead_id).where(ThreadLead.thread_id == away.id)
    ).all() == [ann.id]
    # Linked, not counted: no message from Ann, so no first inbound to answer; the
    # signals step records her auto-reply as such, never as a reply.
    assert [a.kind for a in session.scalars(select(Activity).order_by(Activity.id))] == [
        ActivityKind.message_out,
        ActivityKind.auto_reply,
    ]
    assert leads(session)["ann@acme.example"].first_inbound_at is None


def test_a_member_on_a_free_mail_address_is_team(session: Session, workspace: Workspace) -> None:
    box = MailboxFactory(workspace=workspace, email="owner@gmail.com")
    policy(session, workspace, LeadPolicy.all_mail, [])
    sync(session, box, mail("owner@gmail.com", "rita@team.example, pal@gmail.com", sent=True))
    assert set(leads(session)) == {"pal@gmail.com"}


def test_names_from_awkward_headers(session: Session, workspace: Workspace, box: Mailbox) -> None:
    policy(session, workspace, LeadPolicy.all_mail, [])
    sync(
        session,
        box,
        mail(
            "=?UTF-8?Q?Zo=C3=AB_M=C3=BCller?= <zoe@firma.de>",
            f'{REP}, "O\'Brien, Dan" <dan@obrien.example>, plain@bare.example, '
            '"plain@quoted.example" <plain@quoted.example>',
        ),
    )
    names = {email: lead.name for email, lead in leads(session).items()}
    assert names == {
        "zoe@firma.de": "Zoë Müller",
        "dan@obrien.example": "O'Brien, Dan",
        "plain@bare.example": "",
        "plain@quoted.example": "",
    }


def test_idn_and_plus_tags(session: Session, workspace: Workspace, box: Mailbox) -> None:
    policy(session, workspace, LeadPolicy.all_mail, [])
    # Punycode on the wire, Unicode once normalized: the same address either way.
    sync(
        session,
        box,
        mail("=?UTF-8?Q?J=C3=B6rg?= <joerg@xn--bcher-kva.de>", REP),
        mail("ann+crm@acme.example", REP),
    )
    found = leads(session)
    assert set(found) == {"joerg@bücher.de", "ann+crm@acme.example"}
    company = found["joerg@bücher.de"].company
    assert company is not None
    assert company.name == "Bücher"
    assert [d.domain for d in company.domains] == ["xn--bcher-kva.de"]
    # A lead added later with another case of the same address is the same person.
    assert find_lead_by_email(Scope(session, workspace.id), "ANN+crm@Acme.example") is not None


def test_straße_is_its_own_domain_for_the_blocklist_and_the_company(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    session.add(BlockedAddress(workspace_id=workspace.id, pattern=normalize_pattern("@straße.de")))
    policy(session, workspace, LeadPolicy.all_mail, [])
    # Punycode on the wire (raw UTF-8 in a header is unreadable), Unicode once normalized.
    sync(
        session,
        box,
        mail("ann@xn--strae-oqa.de", REP),
        mail("bob@strasse.de", REP, thread="t2"),
    )
    assert count(session, Message) == 2
    assert set(leads(session)) == {"bob@strasse.de"}  # IDNA 2003 would block both
    session.execute(delete(BlockedAddress))
    session.commit()
    sync(session, box, mail("cleo@xn--strae-oqa.de", REP, thread="t3"))
    company = leads(session)["cleo@straße.de"].company
    assert company is not None
    assert (company.name, [d.domain for d in company.domains]) == ("Straße", ["xn--strae-oqa.de"])


def test_an_existing_company_is_reused_and_one_is_made_per_domain(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    acme = CompanyFactory(workspace=workspace, name="ACME Corp", domains=["acme.example"])
    sync(
        session,
        box,
        mail(REP, "a@acme.example, b@mail.acme.example, c@globex.example, d@globex.example",
             sent=True),
    )  # fmt: skip
    found = leads(session)
    assert {found[e].company_id for e in ("a@acme.example", "b@mail.acme.example")} == {acme.id}
    globex = {found[e].company_id for e in ("c@globex.example", "d@globex.example")}
    assert len(globex) == 1
    assert count(session, Company) == 2


def test_the_owner_is_the_member_whose_mailbox_exchanged_mail_first(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    ben = MailboxFactory(workspace=workspace, email="ben@team.example")
    # Ben wrote to Ann a week before Rita did; both copies arrive in one capture.
    sync(
        session,
        ben,
        mail("ben@team.example", "ann@acme.example", thread="b1", minute=0, sent=True),
        mail("ben@team.example", "ann@acme.example", thread="b2", minute=10_000, sent=True),
    )
    sync(session, box, mail(REP, "ann@acme.example", thread="r1", minute=20_000, sent=True))
    ann = leads(session)["ann@acme.example"]
    assert ann.owner_id == ben.member_id
    assert count(session, ThreadLead) == 3  # each mailbox's thread is linked


# --- links, primary lead, activities ----------------------------------------------------


def test_the_primary_lead_is_the_first_outside_participant_who_is_a_lead(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    sync(
        session,
        box,
        mail("noreply@tool.example", REP, thread="t1", minute=0),
        mail(REP, "first@acme.example, second@acme.example", thread="t1", minute=1, sent=True),
    )
    thread = session.scalars(select(Thread)).one()
    found = leads(session)
    assert thread.primary_lead_id == found["first@acme.example"].id
    # A rep's choice stands through later syncs.
    thread.primary_lead_id = found["second@acme.example"].id
    thread.primary_by_rep = True
    session.commit()
    sync(session, box, mail("first@acme.example", REP, thread="t1", minute=2))
    session.refresh(thread)
    assert thread.primary_lead_id == found["second@acme.example"].id


def test_a_detached_link_is_never_attached_again(session: Session, box: Mailbox) -> None:
    sync(session, box, mail(REP, "ann@acme.example", thread="t1", sent=True))
    link = session.scalars(select(ThreadLead)).one()
    link.detached = True
    session.commit()
    sync(session, box, mail("ann@acme.example", REP, thread="t1", minute=5))
    links = session.scalars(select(ThreadLead)).all()
    assert [(lk.id, lk.detached) for lk in links] == [(link.id, True)]
    assert session.scalars(select(Thread)).one().primary_lead_id is None


def test_activities_are_counted_once_per_message_however_often_it_is_captured(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    ben = MailboxFactory(workspace=workspace, email="ben@team.example")
    # One conversation that both Rita and Ben are on: each mailbox has its own copy.
    conversation = [
        ("ann@acme.example", f"{REP}, ben@team.example", "<a1@acme.example>", 0, False),
        (REP, "ann@acme.example, ben@team.example", "<r1@team.example>", 30, True),
    ]
    for owner in (box, ben):
        batch = [
            mail(s, t, message_id=mid, minute=m, sent=sent and owner is box, thread=f"{owner.id}")
            for s, t, mid, m, sent in conversation
        ]
        sync(session, owner, *batch)
        sync(session, owner, *batch)  # fetched again: stored once, captured once
    assert count(session, Message) == 4
    assert count(session, ThreadLead) == 2
    kinds = sorted(a.kind.value for a in session.scalars(select(Activity)))
    assert kinds == ["message_in", "message_out"]
    ann = leads(session)["ann@acme.example"]
    assert ann.first_inbound_at is not None
    assert ann.first_response_at is not None
    assert ann.first_response_at - ann.first_inbound_at == dt.timedelta(minutes=30)


def test_a_thread_with_fifty_people_no_sender_and_garbage_addresses(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    policy(session, workspace, LeadPolicy.all_mail, [])
    crowd = ", ".join(f"Person {i} <p{i}@crowd.example>" for i in range(50))
    sync(
        session,
        box,
        mail(REP, crowd, sent=True, thread="big"),
        mail("", REP, thread="nofrom", minute=1),
        mail("<<<@@>>>, not an address", "also;;garbage, @, x@", thread="junk", minute=2),
        mail('"Unbalanced <ok@fine.example>', REP, thread="broken", minute=3),
    )
    found = leads(session)
    assert sum(e.endswith("@crowd.example") for e in found) == 50
    assert "ok@fine.example" in found
    big = session.scalars(select(Thread).where(Thread.gmail_id == "big")).one()
    assert big.primary_lead_id == found["p0@crowd.example"].id
    assert count(session, Message) == 4


def test_capture_runs_again_without_changing_anything(session: Session, box: Mailbox) -> None:
    sync(session, box, mail(REP, "ann@acme.example", sent=True), mail("ann@acme.example", REP))
    before = (count(session, Lead), count(session, ThreadLead), count(session, Activity))
    assert recapture(session, box.workspace_id, NOW).created == []
    session.commit()
    assert (count(session, Lead), count(session, ThreadLead), count(session, Activity)) == before


# --- matching mail already stored -------------------------------------------------------


def test_a_lead_added_by_hand_gets_its_stored_threads(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    sync(session, box, mail("Ann <ann@acme.example>", REP, thread="old", minute=0))
    sync(session, box, mail("someone@else.example", REP, thread="other", minute=1))
    assert leads(session) == {}
    ann = create_lead(Scope(session, workspace.id), LeadCreate(email="ANN@acme.example"),
                      box.member, NOW)  # fmt: skip
    link_existing_mail(session, workspace.id, [ann.id], NOW)
    session.commit()
    links = session.scalars(select(ThreadLead)).all()
    assert [lk.lead_id for lk in links] == [ann.id]
    session.refresh(ann)
    assert ann.first_inbound_at is not None
    assert ann.needs_review is False


def test_a_policy_change_captures_stored_mail(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    sync(session, box, mail("Pat <pat@prospect.example>", "sales@team.example"))
    assert leads(session) == {}
    policy(session, workspace, LeadPolicy.conversations, ["sales@team.example"])
    result = recapture(session, workspace.id, NOW)
    session.commit()
    assert set(leads(session)) == {"pat@prospect.example"}
    assert len(result.created) == 1


def test_leads_are_only_made_in_their_own_workspace(session: Session, box: Mailbox) -> None:
    other = WorkspaceFactory(domain="other.example")
    theirs = MailboxFactory(workspace=other, email="olga@other.example", role=Role.admin)
    create_lead(Scope(session, other.id), LeadCreate(email="ann@acme.example"), theirs.member, NOW)
    session.commit()
    sync(session, box, mail(REP, "ann@acme.example", sent=True))
    rows = session.execute(select(LeadEmail.workspace_id, LeadEmail.email)).all()
    assert sorted(rows) == sorted(
        [(other.id, "ann@acme.example"), (box.workspace_id, "ann@acme.example")]
    )
    link = session.scalars(select(ThreadLead)).one()
    assert link.workspace_id == box.workspace_id
    assert session.get_one(Lead, link.lead_id).workspace_id == box.workspace_id


def test_an_address_added_through_the_api_brings_its_stored_threads(
    session: Session, workspace: Workspace, box: Mailbox, client: FlaskClient
) -> None:
    sync(session, box, mail("Ann <ann@acme.example>", REP, thread="work", minute=0))
    sync(session, box, mail("Ann <ann.home@mail.example>", REP, thread="home", minute=1))
    ann = create_lead(Scope(session, workspace.id), LeadCreate(email="ann@acme.example"),
                      box.member, NOW)  # fmt: skip
    link_existing_mail(session, workspace.id, [ann.id], NOW)
    session.commit()
    assert count(session, ThreadLead) == 1
    token = api_token(box.member)
    answer = client.patch(
        f"/api/v1/leads/{ann.id}",
        json={"other_emails": ["ann.home@mail.example"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    session.expire_all()
    assert {lk.lead_id for lk in session.scalars(select(ThreadLead))} == {ann.id}
    assert count(session, ThreadLead) == 2


def test_recapture_goes_step_by_step_over_every_thread(
    session: Session, workspace: Workspace, box: Mailbox
) -> None:
    for n in range(3):
        sync(session, box, mail(f"p{n}@prospect{n}.example", REP, thread=f"t{n}", minute=n))
    assert leads(session) == {}
    policy(session, workspace, LeadPolicy.all_mail, [])
    workspace.recapture_from = 0
    session.commit()
    steps = 0
    while backfill.recapture_step(session, workspace.id, NOW, step=1) is not None:
        session.commit()
        steps += 1
    assert steps == 4  # one thread each, then the step that finds the end
    assert set(leads(session)) == {f"p{n}@prospect{n}.example" for n in range(3)}
    session.refresh(workspace)
    assert (workspace.recapture_from, workspace.recapture_created) == (None, 3)

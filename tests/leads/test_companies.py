"""The company page and API: domains, leads, and the team's conversations with them."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import Company, CompanyDomain, Lead
from inboxcrm.stages.models import Stage
from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    MessageFactory,
    ThreadFactory,
    ThreadLeadFactory,
    api_token,
)
from tests.support.web import csrf_token, sign_in

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(session: Session) -> Member:
    return MemberFactory(email="rita@team.example", name="Rita Rep")


def domains(session: Session, company_id: int) -> list[str]:
    session.expire_all()
    return sorted(
        session.scalars(select(CompanyDomain.domain).where(CompanyDomain.company_id == company_id))
    )


def test_the_company_page_lists_leads_and_conversations_as_privacy_allows(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    colleague = MemberFactory(workspace=rep.workspace, name="Colin")
    zoe = LeadFactory(owner=rep, email="zoe@acme.co.uk", name="Zoe Acme", company="Acme")
    max_ = LeadFactory(owner=colleague, email="max@acme.co.uk", name="Max Acme", company="Acme")
    zoe.last_contacted_at = T0
    sql = session.scalars(select(Stage).where(Stage.name == "SQL")).first()
    assert sql is not None
    max_.stage = sql
    session.commit()
    assert zoe.company_id == max_.company_id is not None
    mine = ThreadFactory(mailbox=MailboxFactory(member=rep), subject="Renewal terms")
    MessageFactory(thread=mine, at=T0, snippet="renewal at 10 seats")
    ThreadLeadFactory(thread=mine, lead=zoe)
    theirs = MailboxFactory(member=colleague, visibility="metadata")
    envelope = ThreadFactory(mailbox=theirs, subject="Roadmap chat")
    MessageFactory(thread=envelope, at=T0 + dt.timedelta(hours=1), snippet="roadmap secrets")
    ThreadLeadFactory(thread=envelope, lead=max_)
    private = ThreadFactory(mailbox=theirs, subject="Private pricing", private=True)
    MessageFactory(thread=private, at=T0 + dt.timedelta(hours=2))
    ThreadLeadFactory(thread=private, lead=max_)

    sign_in(client, rep)
    html = client.get(f"/companies/{zoe.company_id}").text
    for shown in (
        "Acme", "acme.co.uk", "Zoe Acme", "Max Acme", "Rita Rep", "Colin", "SQL",
        "Renewal terms", "renewal at 10 seats", "Roadmap chat", "subject and participants only",
    ):  # fmt: skip
        assert shown in html, shown
    assert "roadmap secrets" not in html
    assert "Private pricing" not in html
    assert html.index("Roadmap chat") < html.index("Renewal terms")  # newest first
    assert html.index("Zoe Acme") < html.index("Max Acme")  # most recently contacted first
    lead_page = client.get(f"/leads/{zoe.id}").text
    assert f'href="/companies/{zoe.company_id}"' in lead_page


def test_domains_are_added_and_removed_and_bad_ones_explained(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    acme = LeadFactory(owner=rep, email="zoe@acme.example", company="Acme")
    other = LeadFactory(owner=rep, email="ann@globex.example", company="Globex")
    stray = LeadFactory(owner=rep, email="ivan@eu.acme-group.co.uk", company="")  # none
    session.commit()
    assert stray.company_id is None
    company_id = acme.company_id
    assert company_id is not None
    sign_in(client, rep)
    page = f"/companies/{company_id}"
    token = csrf_token(client.get(page).text)

    answer = client.post(
        f"{page}/domains",
        data={"csrf_token": token, "domain": " https://www.Acme-Group.co.uk/about "},
    )
    assert answer.status_code == 302
    assert domains(session, company_id) == ["acme-group.co.uk", "acme.example"]
    # A lead at the new domain (a subdomain, even) that had no company joins this one.
    assert session.get_one(Lead, stray.id).company_id == company_id
    assert "ivan@eu.acme-group.co.uk" in client.get(page).text

    for typed, status, says in (
        ("co.uk", 422, "not a domain"),
        ("gmail.com", 422, "free mail provider"),
        ("not a domain", 422, "not a domain"),
        ("globex.example", 409, "belongs to Globex"),
        ("acme.example", 409, "already a domain of Acme"),
    ):
        answer = client.post(f"{page}/domains", data={"csrf_token": token, "domain": typed})
        assert answer.status_code == status, typed
        assert says in answer.text
        assert f'value="{typed}"' in answer.text  # kept, to correct
    assert domains(session, company_id) == ["acme-group.co.uk", "acme.example"]

    row = session.scalars(
        select(CompanyDomain).where(CompanyDomain.domain == "acme-group.co.uk")
    ).one()
    answer = client.post(f"{page}/domains/{row.id}/remove", data={"csrf_token": token})
    assert answer.status_code == 302
    assert domains(session, company_id) == ["acme.example"]
    assert session.get_one(Lead, stray.id).company_id == company_id  # leads stay
    # Another company's domain cannot be removed through this one.
    globex = session.scalars(
        select(CompanyDomain).where(CompanyDomain.domain == "globex.example")
    ).one()
    answer = client.post(f"{page}/domains/{globex.id}/remove", data={"csrf_token": token})
    assert answer.status_code == 404
    assert domains(session, other.company_id) == ["globex.example"]  # type: ignore[arg-type]


def test_the_company_api_and_another_workspaces_company(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    zoe = LeadFactory(owner=rep, email="zoe@acme.example", name="Zoe", company="Acme")
    zoe.last_contacted_at = T0
    session.commit()
    token = api_token(rep)
    answer = client.get(
        f"/api/v1/companies/{zoe.company_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["name"] == "Acme"
    assert body["domains"] == ["acme.example"]
    assert body["lead_count"] == 1
    (lead,) = body["leads"]
    assert lead["id"] == zoe.id
    assert lead["stage"]["name"] == "Lead"
    assert lead["owner"]["email"] == rep.email
    assert lead["last_contacted_at"] == T0.isoformat()

    foreign = LeadFactory(email="x@initech.example", company="Initech")
    answer = client.get(
        f"/api/v1/companies/{foreign.company_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 404
    assert "Initech" not in answer.text
    sign_in(client, rep)
    assert client.get(f"/companies/{foreign.company_id}").status_code == 404
    csrf = csrf_token(client.get(f"/companies/{zoe.company_id}").text)
    answer = client.post(
        f"/companies/{foreign.company_id}/domains", data={"csrf_token": csrf, "domain": "a.com"}
    )
    assert answer.status_code == 404
    assert domains(session, foreign.company_id) == ["initech.example"]  # type: ignore[arg-type]
    assert session.get_one(Company, foreign.company_id).name == "Initech"

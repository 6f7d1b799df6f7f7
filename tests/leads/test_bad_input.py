"""Input that used to get through: pages past the end, over-long tags, domains that are
not domains, and domains shown back in ASCII."""

from __future__ import annotations

import html

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import CompanyDomain, Lead, Tag
from inboxcrm.leads.service import LeadFilter, list_leads
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.web import csrf_token, sign_in


@pytest.fixture
def rep(session: Session) -> Member:
    return MemberFactory(email="rita@team.example", name="Rita Rep")


# --- pages past the end -------------------------------------------------------------------


def test_a_page_past_the_end_shows_the_last_page(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    for i in range(5):
        LeadFactory(owner=rep, name=f"Person {i}")
    sign_in(client, rep)
    page = html.unescape(client.get("/leads?owner=any&per_page=2&page=999").text)
    assert "5\u20135 of 5 leads" in page  # an en dash
    assert "Page 3 of 3" in page
    assert 'rel="next"' not in page
    assert "page=2" in page  # "Previous" goes back from the last page

    body = client.get(
        "/api/v1/leads?per_page=2&page=999", headers={"Authorization": f"Bearer {api_token(rep)}"}
    ).json
    assert (body["page"], body["pages"], body["total"], len(body["leads"])) == (3, 3, 5, 1)


def test_a_page_past_the_end_of_nothing_says_it_is_empty(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    LeadFactory(owner=rep, name="Only One")
    sign_in(client, rep)
    page = html.unescape(client.get("/leads?owner=any&q=nobody&page=999").text)
    assert "No leads match these filters." in page
    assert "Page " not in page
    assert "49951" not in page
    body = client.get(
        "/api/v1/leads?q=nobody&page=999", headers={"Authorization": f"Bearer {api_token(rep)}"}
    ).json
    assert (body["page"], body["pages"], body["total"], body["leads"]) == (1, 1, 0, [])


def test_past_a_capped_count_the_last_page_is_found(session: Session, rep: Member) -> None:
    """A search counts up to a limit; a page past the real end beyond that is found by
    counting once, for that page."""
    for i in range(7):
        LeadFactory(owner=rep, name=f"Searched Person {i}")
    scope = Scope(session, rep.workspace_id)
    far = LeadFilter(q="searched", per_page=2, page=50)
    shown = list_leads(scope, far, last_if_past_end=True, narrowed_limit=2)
    assert (shown.filter.page, len(shown.leads), shown.exact) == (4, 1, False)
    # A deep page that exists is shown as asked, past the capped count.
    near = LeadFilter(q="searched", per_page=2, page=3)
    deep = list_leads(scope, near, last_if_past_end=True, narrowed_limit=2)
    assert (deep.filter.page, len(deep.leads)) == (3, 2)


# --- tags ---------------------------------------------------------------------------------


def test_a_tag_too_long_for_bulk_says_what_is_wrong_and_changes_nothing(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    lead = LeadFactory(owner=rep)
    sign_in(client, rep)
    token = csrf_token(client.get("/leads").text)
    tag = "t" * 61
    for field in ("add_tag", "remove_tag"):
        answer = client.post(
            "/leads/bulk",
            data={"csrf_token": token, "lead_ids": [str(lead.id)], field: tag, "next": "/leads"},
        )
        page = html.unescape(client.get(answer.location).text)
        assert "could not be read" not in page
        what = field.split("_")[0]
        assert (
            f"Nothing was changed: a tag has at most 60 characters; the tag to {what} has 61:"
            f" {tag}" in page
        )
    session.expire_all()
    assert session.get_one(Lead, lead.id).tags == []
    assert session.scalars(select(Tag)).all() == []
    # Sixty is fine, spaces around it are not counted.
    client.post(
        "/leads/bulk",
        data={"csrf_token": token, "lead_ids": [str(lead.id)], "add_tag": f"  {'t' * 60}  "},
    )
    session.expire_all()
    assert [t.name for t in session.get_one(Lead, lead.id).tags] == ["t" * 60]


# --- company domains ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        (
            "x" * 300,
            f"'{'x' * 39}…' is too long for a part of a domain: 300 characters, at most 63",
        ),
        (
            "x" * 300 + ".com",
            f"'{'x' * 39}…' is too long for a part of a domain: 300 characters, at most 63",
        ),
        (
            ".".join(["a" * 60] * 5) + ".com",
            "is too long for a domain: 308 characters, at most 253",
        ),
        ("acme..com", "'acme..com' is not a domain: it has an empty part between dots"),
        ("-acme.com", "'-acme' cannot be part of a domain: letters, digits and hyphens only"),
        ("acme_corp.com", "'acme_corp' cannot be part of a domain"),
        ("co.uk", "'co.uk' is not a domain such as acme.com but a public suffix"),
        ("github.io", "'github.io' is not a domain such as acme.com but a public suffix"),
    ],
)
def test_bad_domains_are_refused_saying_why(
    client: FlaskClient, session: Session, rep: Member, typed: str, says: str
) -> None:
    acme = LeadFactory(owner=rep, email="zoe@acme.example", company="Acme")
    sign_in(client, rep)
    page = f"/companies/{acme.company_id}"
    answer = client.post(
        f"{page}/domains", data={"csrf_token": csrf_token(client.get(page).text), "domain": typed}
    )
    assert answer.status_code == 422
    assert says in html.unescape(answer.text)
    assert session.scalars(select(CompanyDomain.domain)).all() == ["acme.example"]


def test_domains_are_shown_in_unicode(client: FlaskClient, session: Session, rep: Member) -> None:
    acme = LeadFactory(owner=rep, email="zoe@acme.example", company="Acme")
    sign_in(client, rep)
    page = f"/companies/{acme.company_id}"
    answer = client.post(
        f"{page}/domains",
        data={"csrf_token": csrf_token(client.get(page).text), "domain": "München.de"},
    )
    assert answer.status_code == 302
    assert sorted(session.scalars(select(CompanyDomain.domain))) == [
        "acme.example",
        "xn--mnchen-3ya.de",
    ]  # stored as DNS has it, so `ann@xn--mnchen-3ya.de` and `ann@münchen.de` match
    shown = client.get(answer.location).text
    assert "münchen.de added to Acme." in shown
    assert "<span data-domain>münchen.de</span>" in shown
    assert "xn--" not in shown
    again = client.post(
        f"{page}/domains", data={"csrf_token": csrf_token(shown), "domain": "xn--mnchen-3ya.de"}
    )
    assert again.status_code == 409
    assert "münchen.de is already a domain of Acme" in again.text

"""Addresses as real mail writes them, from a header to a lead: parse_addresses ->
normalize_email -> company_domain -> create_lead."""

from __future__ import annotations

import datetime as dt

import pytest
from email_validator import validate_email
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.addresses import (
    ascii_domain,
    company_domain,
    normalize_email,
    registrable_domain,
)
from inboxcrm.errors import Conflict
from inboxcrm.leads.merge import merge_leads
from inboxcrm.leads.models import Lead
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import (
    LeadFilter,
    create_lead,
    find_lead_by_email,
    list_leads,
)
from inboxcrm.mail.participants import MAX_NAME, Address, parse_addresses
from inboxcrm.tenancy import Scope
from tests.factories import MemberFactory

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def lead_from(scope: Scope, actor: Member, header: str) -> Lead:
    """The lead the one address in a header makes, as leads from mail are made."""
    (address,) = parse_addresses(header)
    data = LeadCreate(email=address.email, **({"name": address.name} if address.name else {}))
    return create_lead(scope, data, actor, NOW)


@pytest.mark.parametrize(
    ("header", "name", "email"),
    [
        # RFC 2047 encoded words, Q and B, in several charsets
        ("=?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?= <jose@example.com>", "José Pérez", "jose@example.com"),
        ("=?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@example.co.jp>", "山田太郎", "taro@example.co.jp"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard <andre@ulg.ac.be>", "André Pirard", "andre@ulg.ac.be"),
        ("=?utf-8?q?=E2=80=9CAnn=E2=80=9D?= <ann@acme.com>", "“Ann”", "ann@acme.com"),
        # an encoded word inside quotes: not allowed, still sent, decoded by every client
        ('"=?UTF-8?Q?Bj=C3=B6rn?=" <bjorn@acme.se>', "Björn", "bjorn@acme.se"),
        # quotes, escaped quotes and commas
        ('"Smith, Ann" <ann@acme.co.uk>', "Smith, Ann", "ann@acme.co.uk"),
        ('"Ann \\"The Closer\\" Smith" <ann@acme.com>', 'Ann "The Closer" Smith', "ann@acme.com"),
        ('"O\'Brien, Pat" <pat@obrien.ie>', "O'Brien, Pat", "pat@obrien.ie"),
        ("=?UTF-8?Q?M=C3=BCller=2C_Hans?= <hans@firma.de>", "Müller, Hans", "hans@firma.de"),
        # an unquoted comma (broken mailers): the surname is not lost
        ("Smith, Ann <ann@acme.co.uk>", "Smith, Ann", "ann@acme.co.uk"),
        ("=?UTF-8?Q?M=C3=BCller?=, Hans <hans@firma.de>", "Müller, Hans", "hans@firma.de"),
        # no display name, or one that only repeats the address
        ("ann@acme.com", "", "ann@acme.com"),
        ("<ann@acme.com>", "", "ann@acme.com"),
        ('"ANN@acme.com" <ann@acme.com>', "", "ann@acme.com"),
        ("pat@obrien.ie (Pat O)", "Pat O", "pat@obrien.ie"),
        # plus tags and upper case: lower-cased, the tag kept (it is how the person wrote)
        ("Ann.Smith+Deals@ACME.COM", "", "ann.smith+deals@acme.com"),
        ("Ann <ANN+crm@Acme.Com>", "Ann", "ann+crm@acme.com"),
        # IDN domains, in Unicode or punycode, and a root-dot domain
        ("José <josé@Bücher.DE>", "José", "josé@bücher.de"),
        ("x@xn--bcher-kva.de", "", "x@bücher.de"),
        ("Ann <ann@acme.com.>", "Ann", "ann@acme.com"),
        # controls and bidi overrides are not kept in a name
        ("=?UTF-8?Q?Ann=00Smith?= <ann@acme.com>", "Ann Smith", "ann@acme.com"),
        ("=?UTF-8?Q?Ann_=E2=80=AEhtimS?= <ann@acme.com>", "Ann htimS", "ann@acme.com"),
    ],
)
def test_display_names_and_addresses(header: str, name: str, email: str) -> None:
    assert parse_addresses(header) == [Address(name, email)]


def test_a_list_with_broken_entries_keeps_everyone_with_the_right_name() -> None:
    header = (
        'Smith, Ann <ann@acme.co.uk>, "Doe, John" <john@doe.example>, undisclosed-recipients:;, '
        "=?UTF-8?Q?Lee=2C_Kim?= <kim@lee.example>, bob@, Eve <EVE@Evil.Example>"
    )
    assert parse_addresses(header) == [
        Address("Smith, Ann", "ann@acme.co.uk"),
        Address("Doe, John", "john@doe.example"),
        Address("Lee, Kim", "kim@lee.example"),
        Address("Eve", "eve@evil.example"),
    ]


def test_a_very_long_display_name_is_cut_to_what_a_lead_holds() -> None:
    (address,) = parse_addresses(f'"{"A" * 150} {"B" * 150}" <ann@acme.com>')
    assert len(address.name) == MAX_NAME
    assert address.name.startswith("A" * 150 + " B")


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("ann@mail.acme.co.uk", "acme.co.uk"),
        ("ann@ACME.co.UK", "acme.co.uk"),
        ("ann@sub.acme.com.au", "acme.com.au"),
        ("taro@example.co.jp", "example.co.jp"),
        ("andre@vm1.ulg.ac.be", "ulg.ac.be"),
        ("ann@co.uk", None),  # a bare public suffix is nobody's company
        ("ann@gmail.com", None),  # free mail says nothing about a company
        ("ann@yahoo.co.uk", None),
        ("josé@bücher.de", "xn--bcher-kva.de"),
        ("x@xn--bcher-kva.de", "xn--bcher-kva.de"),
        # IDNA 2008: ß is a letter of its own, so straße.de is not strasse.de
        ("x@straße.de", "xn--strae-oqa.de"),
        ("x@STRASSE.de", "strasse.de"),
        ("test@例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("x@ΣΊΣΥΦΟΣ.gr", "xn--kxa6akbbkh.gr"),
    ],
)
def test_company_domains(email: str, domain: str | None) -> None:
    assert company_domain(email) == domain
    # The stored form of the address names the same company as what was written.
    assert company_domain(normalize_email(email)) == domain


@pytest.mark.parametrize(
    "email", ["josé@bücher.de", "x@straße.de", "x@faß.de", "test@例え.テスト", "x@ΣΊΣΥΦΟΣ.gr"]
)
def test_domains_are_spelled_in_ascii_as_email_validator_does(email: str) -> None:
    checked = validate_email(email, check_deliverability=False, allow_smtputf8=True)
    assert ascii_domain(email.rsplit("@", 1)[1]) == checked.ascii_domain
    assert registrable_domain(email) == registrable_domain(checked.ascii_domain)


@pytest.mark.parametrize("domain", ["", ".", "xn--zz.de", "ex ample.com"])
def test_invalid_domains_have_no_registrable_domain(domain: str) -> None:
    assert registrable_domain(f"x@{domain}") is None


# --- through to a lead -----------------------------------------------------------------------


@pytest.fixture
def rep(session: Session) -> Member:
    return MemberFactory()


def test_leads_from_awkward_headers_keep_their_names_and_companies(
    session: Session, rep: Member
) -> None:
    scope = Scope(session, rep.workspace_id)
    acme = create_lead(scope, LeadCreate(email="boss@acme.co.uk", company="Acme"), rep, NOW)
    ann = lead_from(scope, rep, "Smith, Ann <Ann@Mail.ACME.co.uk>")
    assert (ann.name, ann.email, ann.company_id) == (
        "Smith, Ann",
        "ann@mail.acme.co.uk",
        acme.company_id,
    )
    jose = lead_from(scope, rep, "=?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?= <jose@xn--bcher-kva.de>")
    assert (jose.name, jose.email) == ("José Pérez", "jose@bücher.de")
    nameless = lead_from(scope, rep, "<someone@gmail.com>")
    assert (nameless.name, nameless.company) == ("", None)
    hostile = lead_from(scope, rep, "=?UTF-8?Q?Eve=00=E2=80=AE?= <eve@evil.example>")
    assert hostile.name == "Eve"
    session.commit()  # PostgreSQL refuses NUL in text: nothing unstorable got this far
    # Search finds them by the name as written, in any case.
    for q, lead in (("smith, ann", ann), ("JOSÉ", jose), ("bücher", jose)):
        assert [found.id for found in list_leads(scope, LeadFilter(q=q)).leads] == [lead.id], q


def test_a_company_is_found_by_either_spelling_of_an_idn_domain(
    session: Session, rep: Member
) -> None:
    scope = Scope(session, rep.workspace_id)
    first = create_lead(scope, LeadCreate(email="a@bücher.de", company="Bücher GmbH"), rep, NOW)
    assert first.company is not None
    assert [d.domain for d in first.company.domains] == ["xn--bcher-kva.de"]
    second = lead_from(scope, rep, "B <b@XN--BCHER-KVA.DE>")
    assert second.company_id == first.company_id
    # straße.de and strasse.de are two domains: two companies, never one by accident.
    strasse = create_lead(scope, LeadCreate(email="c@strasse.de", company="Strasse"), rep, NOW)
    other = lead_from(scope, rep, "d@straße.de")
    assert strasse.company is not None
    assert [d.domain for d in strasse.company.domains] == ["strasse.de"]
    assert other.company is not None  # a new domain, by hand: a company of its own
    assert other.company_id != strasse.company_id
    assert other.company.name == "Straße"


def test_an_address_in_another_spelling_is_the_same_lead(session: Session, rep: Member) -> None:
    scope = Scope(session, rep.workspace_id)
    lead = lead_from(scope, rep, "José <JOSE@Bücher.de>")
    for spelling in ("jose@bücher.de", "Jose@XN--BCHER-KVA.DE", "jose@bücher.de."):
        found = find_lead_by_email(scope, spelling)
        assert found is not None
        assert found.id == lead.id
        with pytest.raises(Conflict, match="already belongs to lead"):
            create_lead(scope, LeadCreate(email=spelling), rep, NOW)


def test_a_plus_tagged_address_is_its_own_lead_until_merged(session: Session, rep: Member) -> None:
    """ann+crm@ reaches ann@, but many systems treat them as two: we keep both as written,
    and a rep who knows they are one person merges them."""
    scope = Scope(session, rep.workspace_id)
    ann = lead_from(scope, rep, "Ann Smith <Ann@Acme.com>")
    tagged = lead_from(scope, rep, "Ann Smith <ANN+Newsletter@acme.com>")
    assert tagged.id != ann.id
    assert tagged.company_id == ann.company_id
    merge_leads(scope, ann, tagged, rep, NOW)
    session.commit()
    found = find_lead_by_email(scope, "ann+newsletter@ACME.com")
    assert found is not None
    assert found.id == ann.id
    assert [e.email for e in ann.emails] == ["ann@acme.com", "ann+newsletter@acme.com"]

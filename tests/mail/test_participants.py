from __future__ import annotations

import pytest

from inboxcrm.mail.kind import is_bulk
from inboxcrm.mail.parse import ParsedMessage
from inboxcrm.mail.participants import (
    Address,
    decode_words,
    external_participants,
    is_automated_sender,
    parse_addresses,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ann@acme.com", [("", "ann@acme.com")]),
        ("Ann Smith <ANN@Acme.COM>", [("Ann Smith", "ann@acme.com")]),
        (
            '"Smith, Ann" <ann@acme.com>, bob@acme.com',
            [("Smith, Ann", "ann@acme.com"), ("", "bob@acme.com")],
        ),
        (
            "=?UTF-8?Q?M=C3=BCller=2C_J=C3=BCrgen?= <jm@firma.de>",
            [("Müller, Jürgen", "jm@firma.de")],
        ),
        ("=?ISO-8859-1?B?Sm9z6Q==?= <jose@acme.com>", [("José", "jose@acme.com")]),
        ('"ann@acme.com" <ann@acme.com>', [("", "ann@acme.com")]),
        ("<Ann+Deals@Acme.com>", [("", "ann+deals@acme.com")]),
        ("josé@bücher.de", [("", "josé@bücher.de")]),
        ("Zoë <zoe@xn--bcher-kva.de>", [("Zoë", "zoe@bücher.de")]),
        ("a@acme.com, A@ACME.com", [("", "a@acme.com")]),
        ("undisclosed-recipients:;", []),
        ("Team: ann@acme.com, bob@acme.com;", [("", "ann@acme.com"), ("", "bob@acme.com")]),
        ("", []),
        ("not an address", []),
        ('"Broken <ann@acme.com>, bob@acme.com', [("", "ann@acme.com"), ("", "bob@acme.com")]),
        ("Ann\r\n Smith <ann@acme.com>", [("Ann Smith", "ann@acme.com")]),
    ],
)
def test_address_lists(header: str, expected: list[tuple[str, str]]) -> None:
    assert parse_addresses(header) == [Address(name, email) for name, email in expected]


def test_encoded_words_with_unknown_charsets_do_not_raise() -> None:
    assert decode_words("=?x-unknown?Q?caf=C3=A9?=") == "café"
    assert decode_words("=?utf-8?B?not base64!?=") == "=?utf-8?B?not base64!?="
    assert decode_words("plain  text") == "plain  text"


@pytest.mark.parametrize(
    ("fields", "bulk"),
    [
        ({}, False),
        ({"list_unsubscribe": "<mailto:u@news.com>"}, True),
        ({"list_id": "<weekly.news.com>"}, True),
        ({"precedence": "Bulk"}, True),
        ({"precedence": "list"}, True),
        ({"precedence": "junk"}, True),
        ({"precedence": "first-class"}, False),
        ({"auto_submitted": "auto-replied"}, True),
        ({"auto_submitted": "auto-generated; owner-email=x@y.com"}, True),
        ({"auto_submitted": "No"}, False),
    ],
)
def test_is_bulk(fields: dict[str, str], bulk: bool) -> None:
    assert is_bulk(ParsedMessage(**fields)) is bulk  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "email",
    [
        "mailer-daemon@googlemail.com",
        "MAILER-DAEMON@acme.com",
        "postmaster@acme.com",
        "noreply@github.com",
        "no-reply@accounts.google.com",
        "no_reply@acme.com",
        "do-not-reply@acme.com",
        "donotreply@acme.com",
        "do_not_reply@acme.com",
        "noreply+notifications@acme.com",
        "bounce@acme.com",
        "bounces+12345-abcd@sendgrid.net",
        "bounce-mc.us5_123.456-ann=acme.com@mail.mailchimp.com",
        "list-bounces@lists.acme.com",
        "msprvs1=20043abc=bounces-123@bounces.google.com",
    ],
)
def test_automated_senders(email: str) -> None:
    assert is_automated_sender(Address("", email))


@pytest.mark.parametrize(
    "email", ["ann@acme.com", "replies@acme.com", "noreen@acme.com", "bouncer.jones@acme.com"]
)
def test_people_are_not_automated(email: str) -> None:
    assert not is_automated_sender(Address("", email))


def _message(from_: str, to: str = "", cc: str = "", bcc: str = "") -> ParsedMessage:
    (sender,) = parse_addresses(from_)
    return ParsedMessage(
        from_=sender,
        to=tuple(parse_addresses(to)),
        cc=tuple(parse_addresses(cc)),
        bcc=tuple(parse_addresses(bcc)),
    )


def test_external_participants_in_header_order_without_the_team() -> None:
    parsed = _message(
        from_="Rep <rep@northwind.io>",
        to="carol@client.com, Eu Rep <rep@eu.northwind.io>, Owner <founder@gmail.com>",
        cc="Dan <DAN@client.com>, Carol Lee <carol@client.com>, pa@other.co.uk",
        bcc="hidden@client.com",
    )
    people = external_participants(parsed, ["northwind.io"], ["founder@gmail.com"])
    assert people == [
        Address("Carol Lee", "carol@client.com"),
        Address("Dan", "dan@client.com"),
        Address("", "pa@other.co.uk"),
    ]


def test_an_inbound_sender_comes_first() -> None:
    parsed = _message(from_="Carol <carol@client.com>", to="rep@northwind.io, x@client.com")
    assert [a.email for a in external_participants(parsed, ["@Northwind.IO"], [])] == [
        "carol@client.com",
        "x@client.com",
    ]


def test_idn_team_domains_match_either_spelling() -> None:
    parsed = _message(from_="ann@bücher.de", to="bob@xn--bcher-kva.de, carol@client.com")
    assert external_participants(parsed, ["xn--bcher-kva.de"], []) == [
        Address("", "carol@client.com")
    ]
    assert external_participants(parsed, ["bücher.de"], []) == [Address("", "carol@client.com")]


def test_an_idn_team_domain_in_idna_2008_form() -> None:
    # IDNA 2003 maps ß to ss: straße.de would be taken for strasse.de, another domain.
    parsed = _message(from_="ann@straße.de", to="bob@xn--strae-oqa.de, carol@strasse.de")
    assert external_participants(parsed, ["straße.de"], []) == [Address("", "carol@strasse.de")]
    assert external_participants(parsed, ["@xn--strae-oqa.de"], []) == [
        Address("", "carol@strasse.de")
    ]
    assert [a.email for a in external_participants(parsed, ["strasse.de"], [])] == [
        "ann@straße.de",
        "bob@straße.de",
    ]


def test_a_lookalike_domain_is_not_the_team() -> None:
    parsed = _message(from_="ann@notnorthwind.io", to="rep@northwind.io")
    assert external_participants(parsed, ["northwind.io"], []) == [
        Address("", "ann@notnorthwind.io")
    ]


def test_a_large_thread_keeps_everyone_once() -> None:
    cc = ", ".join(f"Person {i} <p{i}@client{i % 7}.com>" for i in range(50))
    parsed = _message(from_="rep@northwind.io", to=cc, cc=cc)
    people = external_participants(parsed, ["northwind.io"], [])
    assert [a.email for a in people] == [f"p{i}@client{i % 7}.com" for i in range(50)]

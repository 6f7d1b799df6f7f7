"""The pure detection: raw mail in the shapes real systems send, parsed as the sync parses
it, and what the signals read from it."""

from __future__ import annotations

import datetime as dt
from re import _constants, _parser  # to spell out every phrase the rules know
from typing import Any

import pytest

from inboxcrm.mail.models import MessageKind
from inboxcrm.mail.parse import parse_raw
from inboxcrm.signals.autoreply import return_date
from inboxcrm.signals.bounces import bounce_type, reason_for
from inboxcrm.signals.classify import Signals, read_signals
from inboxcrm.signals.meetings import accepted_meeting
from inboxcrm.signals.replies import detect_reply, is_inquiry
from inboxcrm.signals.unsubscribe import PHRASES, asks_to_unsubscribe
from tests.support.signals import (
    calendar_reply,
    exchange_bounce,
    exim_bounce,
    gmail_bounce,
    ics_reply,
    message,
    out_of_office,
    postfix_bounce,
    qmail_bounce,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
AVA = "ava.reed@northwind.io"
NINA = "nina@vandelay.example"


def signals(raw: str | bytes) -> Signals:
    return read_signals(parse_raw(raw.encode() if isinstance(raw, str) else raw), NOW)


# --- bounces ----------------------------------------------------------------------------


def test_gmail_address_not_found_is_a_hard_userunknown_matched_to_our_message() -> None:
    raw = gmail_bounce(AVA, NINA, "<proposal@northwind.io>", status="5.1.1", diagnostic=(
        "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
        " 550-5.1.1 double-checking the recipient's email address for typos or\n"
        " 550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser"
    ))  # fmt: skip
    parsed = parse_raw(raw.encode())
    found = read_signals(parsed, NOW)
    assert found.kind is MessageKind.bounce
    assert found.as_json()["bounce"] == {
        "type": "hard", "recipients": [NINA], "status": "5.1.1", "reason": "userunknown",
    }  # fmt: skip
    assert parsed.original_message_id == "<proposal@northwind.io>"


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind", "reason"),
    [
        (
            "5.1.1",
            "550 5.1.1 <nina@vandelay.example>: Recipient address rejected: User unknown"
            " in virtual mailbox table (in reply to RCPT TO command)",
            "hard",
            "userunknown",
        ),
        (
            "5.4.4",
            "Host or domain name not found. Name service error for name=vandelay.example"
            " type=A: Host not found",
            "hard",
            "hostunknown",
        ),
        (
            "5.1.6",
            "550 5.1.6 recipient no longer on server: nina@vandelay.example",
            "hard",
            "hasmoved",
        ),
        (
            "5.2.2",
            "552 5.2.2 <nina@vandelay.example>: Mailbox full (in reply to RCPT TO)",
            "soft",
            "mailboxfull",
        ),
        ("4.2.2", "452 4.2.2 Over quota", "soft", "mailboxfull"),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", "soft", "mesgtoobig"),
        (
            "5.7.1",
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "soft",
            "blocked",
        ),
        (
            "5.7.1",
            "550 5.7.1 Message rejected as spam by Content Filtering",
            "soft",
            "spamdetected",
        ),
        (
            "4.7.0",
            "421 4.7.0 Too many connections from your host, try again later",
            "soft",
            "toomanyconn",
        ),
        (
            "4.7.28",
            "421-4.7.28 Our system has detected an unusual rate limit of mail from your IP",
            "soft",
            "speeding",
        ),
        ("5.7.1", "554 5.7.1 <nina@vandelay.example>: Relay access denied", "soft", "norelaying"),
        ("5.0.0", "550 5.0.0 <nina@vandelay.example>... User unknown", "hard", "userunknown"),
        (
            "5.7.26",
            "550-5.7.26 This message does not have authentication information or fails"
            " to pass authentication checks (SPF or DKIM)",
            "soft",
            "authfailure",
        ),
        ("4.4.7", "Message expired; delivery time expired", "soft", "expired"),
        ("5.3.2", "556 5.3.2 vandelay.example does not accept mail (nullMX)", "hard", "notaccept"),
        (
            "5.2.1",
            "550 5.2.1 The email account that you tried to reach is disabled",
            "soft",
            "suspend",
        ),
    ],
)
def test_postfix_reports_are_typed_by_code_and_words(
    status: str, diagnostic: str, kind: str, reason: str
) -> None:
    found = signals(postfix_bounce(AVA, NINA, "<p@northwind.io>", status=status,
                                   diagnostic=diagnostic))  # fmt: skip
    assert found.bounce is not None
    assert (found.bounce.type, found.bounce.reason) == (kind, reason)
    assert found.bounce.addresses == [NINA]


def test_a_delayed_report_is_no_bounce() -> None:
    found = signals(postfix_bounce(AVA, NINA, "<p@northwind.io>", status="4.4.1",
                                   diagnostic="connect to mx.example: Connection timed out",
                                   action="delayed"))  # fmt: skip
    assert found.kind is not MessageKind.bounce
    assert found.bounce is None


def test_microsoft_365_recipient_not_found_is_hard() -> None:
    found = signals(exchange_bounce(AVA, NINA, "<p@northwind.io>"))
    assert found.as_json()["bounce"] == {
        "type": "hard", "recipients": [NINA], "status": "5.1.10", "reason": "userunknown",
    }  # fmt: skip


def test_plain_text_bounces_of_exim_and_qmail_are_read_from_their_words() -> None:
    exim = signals(exim_bounce(AVA, NINA, "SMTP error from remote mail server after RCPT TO:"
                               f"<{NINA}>:\n    550 5.1.1 <{NINA}>: Recipient address rejected:"
                               " User unknown"))  # fmt: skip
    assert exim.bounce is not None
    assert (exim.bounce.type, exim.bounce.reason, exim.bounce.status) == (
        "hard", "userunknown", "5.1.1",
    )  # fmt: skip
    full = signals(exim_bounce(AVA, NINA, "SMTP error from remote mail server after RCPT TO:"
                               f"<{NINA}>:\n    452 4.2.2 Mailbox is full"))  # fmt: skip
    assert full.bounce is not None
    assert full.bounce.type == "soft"
    qmail = signals(qmail_bounce(AVA, NINA, "550 5.1.1 Sorry, no mailbox here by that name."))
    assert qmail.bounce is not None
    assert (qmail.bounce.addresses, qmail.bounce.type, qmail.bounce.reason) == (
        [NINA], "hard", "userunknown",
    )  # fmt: skip


def test_a_report_naming_no_readable_recipient_is_still_classified() -> None:
    raw = postfix_bounce(AVA, "", "<p@northwind.io>", status="5.1.1",
                         diagnostic="550 5.1.1 User unknown")  # fmt: skip
    found = signals(
        raw.replace("Final-Recipient: rfc822; \r\n", "Final-Recipient: rfc822; ???\r\n")
    )
    assert found.bounce is not None
    assert found.bounce.type == "hard"
    assert found.bounce.addresses == []


@pytest.mark.parametrize(
    ("diagnostic", "kind"),
    [
        ("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "hard"),
        ("450 4.2.0 <x@example.com>: Recipient address rejected: Greylisted", "soft"),
        ("550 5.2.0 mailbox unavailable", "soft"),
        ("550 5.1.1 <x@example.com>... blocked by policy: spam", "soft"),
        ("Sorry, I couldn't find any host named vandelay.example. (#5.1.2)", "hard"),
        ("retry timeout exceeded", "soft"),
        ("", "soft"),
    ],
)
def test_reasons_from_words_alone(diagnostic: str, kind: str) -> None:
    reason = reason_for("", diagnostic)
    assert bounce_type(reason, "", diagnostic) == kind, reason


@pytest.mark.parametrize(
    ("status", "diagnostic", "command", "reason"),
    [
        # A bare "user unknown" a gateway gives under no code, or a code not about the
        # address, and no command: its filter speaking (sisimai's X1, McAfee, SES samples).
        ("", "550 Unknown user nina@client.example", "", "filtered"),
        ("5.7.1", "550 5.7.1 550 User Unknown: nina@client.example", "", "filtered"),
        # Refused at RCPT, or under the address's own code, the mailbox does not exist.
        ("5.2.1", "550 5.2.1 <nina@client.example>... User Unknown", "RCPT", "userunknown"),
        ("5.1.1", "550 5.1.1 <nina@client.example>... User Unknown", "", "userunknown"),
        ("", "Unknown user: nina@client.example", "", "userunknown"),  # IMail
        ("5.0.0", "User Neko (nina@client.example) not listed in Domino Directory", "",
         "userunknown"),
        ("5.4.4", "Name service error for name=client.example type=MX: Malformed or "
         "unexpected name server reply", "", "notaccept"),
        ("", "500 Remote server does not support TLS (state 6).", "", "failedstarttls"),
    ],
)  # fmt: skip
def test_reasons_as_the_reference_parser_reads_them(
    status: str, diagnostic: str, command: str, reason: str
) -> None:
    assert reason_for(status, diagnostic, "failed", command) == reason


# --- auto-replies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("I am out of the office. I will be back on 12 January.", "2027-01-12"),
        (
            "Ich bin bis einschließlich 5. Januar nicht im Büro. Ab dem 6. Januar wieder da.",
            "2027-01-05",
        ),
        ("Je suis absent, de retour le 3 janvier.", "2027-01-03"),
        ("Estaré fuera de la oficina hasta el 7 de enero.", "2027-01-07"),
        ("Estou ausente até 10 de janeiro.", "2027-01-10"),
        ("Ik ben afwezig tot en met 4 januari.", "2027-01-04"),
        ("Sono fuori ufficio fino al 9 gennaio.", "2027-01-09"),
        ("Away from 30/11/2026, back on 14/12/2026.", "2026-12-14"),
        ("Back 2026-12-02.", "2026-12-02"),
        ("Out of office from 1 December until December 8th, 2026.", "2026-12-08"),
        ("Jag är tillbaka 2026-12-09.", "2026-12-09"),  # a language not read: still the date
        ("I am travelling with limited access to email.", None),
        ("Kiitos viestistäsi, olen lomalla.", None),  # unknown language, no date
    ],
)
def test_out_of_office_return_dates(text: str, day: str | None) -> None:
    raw = out_of_office(f"Nina <{NINA}>", AVA, "Automatic reply: Proposal", text,
                        **{"Auto-Submitted": "auto-replied"})  # fmt: skip
    found = signals(raw)
    assert found.kind is MessageKind.auto_reply
    assert found.as_json()["auto_reply"] == {"return_date": day}
    assert found.bounce is None
    assert not found.unsubscribe_request


def test_a_date_without_a_year_is_the_next_one() -> None:
    assert return_date("back on 2 January", dt.date(2026, 12, 20)) == dt.date(2027, 1, 2)
    assert return_date("back on 2 March", dt.date(2026, 2, 20)) == dt.date(2026, 3, 2)
    assert return_date("back on 2 January 2020", dt.date(2026, 12, 20)) is None  # past


# --- meetings ---------------------------------------------------------------------------


def test_an_accepted_invitation_is_a_meeting() -> None:
    raw = calendar_reply(f"Nina <{NINA}>", AVA, ics_reply(NINA), "Accepted: Demo @ Tue 1 Dec")
    meeting = signals(raw).meeting
    assert meeting is not None
    assert (meeting.attendee, meeting.summary, meeting.starts, meeting.source) == (
        NINA, "Demo: Northwind x Vandelay", "20261201T150000Z", "calendar",
    )  # fmt: skip


def test_declined_invitations_requests_and_garbage_are_no_meeting() -> None:
    declined = calendar_reply(NINA, AVA, ics_reply(NINA, "DECLINED"), "Declined: Demo")
    assert signals(declined).meeting is None
    request = calendar_reply(NINA, AVA, ics_reply(NINA, method="REQUEST"), "Invitation: Demo")
    assert signals(request).meeting is None
    garbage = calendar_reply(NINA, AVA, "BEGIN:VCALENDAR\n\x00;;;:::\nATTENDEE;;;=\n", "Hi")
    assert signals(garbage).meeting is None
    assert accepted_meeting("\ufffd" * 1000, "Re: lunch") is None
    plain = message(f"From: {NINA}", f"To: {AVA}", "Subject: Accepted: your offer",
                    body="We accept the offer.")  # fmt: skip
    assert signals(plain).meeting is None


def test_google_calendar_accepted_subject_without_a_readable_calendar() -> None:
    raw = message(f"From: {NINA}", f"To: {AVA}", "Subject: Accepted: Demo @ Tue Dec 1, 2026",
                  "Message-ID: <acc@vandelay.example>", body="Nina has accepted.")  # fmt: skip
    meeting = signals(raw).meeting
    assert meeting is not None
    assert meeting.source == "subject"
    assert meeting.summary.startswith("Demo")


# --- unsubscribe requests ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Please remove me from your list.", True),
        ("Unsubscribe", True),
        ("Stop emailing me!", True),
        ("Bitte nehmen Sie mich aus Ihrem Verteiler, ich möchte mich abmelden.", True),
        ("Merci de me désinscrire.", True),
        ("Por favor, darme de baja.", True),
        ("Por favor, me descadastre... quero descadastrar.", True),
        ("Graag uitschrijven.", True),
        ("Vi prego di rimuovermi.", True),
        ("Thanks, Tuesday works for me.", False),
        (
            "Sounds good, see you Tuesday.\n\nOn Mon, 23 Nov 2026 at 10:00, Ava wrote:\n"
            "> To unsubscribe, reply with 'remove me'.",
            False,
        ),
        ("Great!\n\n-----Original Message-----\nFrom: Ava\nUnsubscribe here", False),
        ("Sure.\n> unsubscribe\n> remove me", False),
    ],
)
def test_unsubscribe_requests_in_the_writers_own_words(text: str, asks: bool) -> None:
    assert asks_to_unsubscribe(text) is asks
    raw = message(f"From: {NINA}", f"To: {AVA}", "Subject: Re: Proposal",
                  "Message-ID: <u@vandelay.example>", body=text)  # fmt: skip
    assert signals(raw).unsubscribe_request is asks


def _spellings(items: Any) -> list[str]:
    """Every text a regular expression without repeats matches (a finite list)."""
    texts = [""]
    for op, arg in items:
        if op is _constants.LITERAL:
            options = [chr(arg)]
        elif op is _constants.IN:
            assert all(kind is _constants.LITERAL for kind, _ in arg)
            options = [chr(code) for _, code in arg]
        elif op is _constants.SUBPATTERN:
            options = _spellings(arg[-1])
        elif op is _constants.BRANCH:
            options = [text for branch in arg[1] for text in _spellings(branch)]
        elif op is _constants.MAX_REPEAT and arg[:2] == (0, 1):
            options = ["", *_spellings(arg[2])]
        elif op is _constants.AT:  # \b
            options = [""]
        else:
            raise AssertionError(f"cannot spell {op}")
        texts = [a + b for a in texts for b in options]
    return texts


def test_every_phrase_of_the_unsubscribe_rules_is_found() -> None:
    """Mail is first looked over for a hint of a phrase: none may be missed."""
    phrases = _spellings(_parser.parse(PHRASES.pattern, PHRASES.flags))
    assert len(phrases) > 100
    missed = [p for p in phrases if not asks_to_unsubscribe(f"Thanks. {p.capitalize()}, please.")]
    assert missed == []


# --- replies ----------------------------------------------------------------------------


def test_a_reply_has_the_latency_since_our_last_message_before_it() -> None:
    t = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    hours = dt.timedelta(hours=1)
    reply = detect_reply(t + 5 * hours, [t, t + 2 * hours, t + 9 * hours])
    assert reply is not None
    assert reply.latency == 3 * hours
    assert detect_reply(t, [t + hours]) is None
    assert is_inquiry(True, True)
    assert not is_inquiry(True, False)
    assert not is_inquiry(False, True)


def test_no_input_makes_detection_raise() -> None:
    for raw in (b"", b"\x00\xff\xfe", b"Content-Type: multipart/report\r\n\r\n--x--",
                b"From: MAILER-DAEMON@x\r\nSubject: Undeliverable\r\n\r\n"):  # fmt: skip
        assert isinstance(signals(raw), Signals)

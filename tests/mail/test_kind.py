"""What a message is, from the shapes real mail systems send: bounces, auto-replies, bulk,
and everything else a person's mail. Each message is raw RFC 5322 bytes, read both ways
(`parse_raw`, and as Gmail's `format=full` JSON)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.mail.kind import is_bounce, message_kind
from inboxcrm.mail.models import Message, MessageKind
from inboxcrm.mail.parse import ParsedMessage, RecipientStatus, parse_message, parse_raw
from inboxcrm.mail.store import MAX_REFERENCES, store_messages
from tests import factories
from tests.support.gmail_json import to_gmail_json

Parse = Callable[[bytes], ParsedMessage]
BOTH_WAYS = pytest.mark.parametrize(
    "parse",
    [parse_raw, lambda raw: parse_message(to_gmail_json(raw))],
    ids=["raw", "gmail"],
)

ORIGINAL = """\
From: Rita Rep <rita@team.example>
To: Nina Berg <nina@client.example>
Subject: Pricing for Q3
Date: Mon, 23 Nov 2026 09:15:00 +0100
Message-ID: <CAF-sent-1@mail.team.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

Hello Nina, here are the prices.
"""


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def message(headers: str, body: str = "Hi there\n") -> bytes:
    return crlf(headers.rstrip("\n") + "\n\n" + body)


def kind(raw: bytes, parse: Parse = parse_raw, own_lists: tuple[str, ...] = ()) -> MessageKind:
    return message_kind(parse(raw), own_lists)


# --- bounces ---------------------------------------------------------------------------


def postfix_bounce(action: str = "failed", status: str = "5.1.1", returned: str = "") -> bytes:
    """Postfix's RFC 3464 report, the original returned whole (or only its headers)."""
    returned = returned or f"Content-Type: message/rfc822\n\n{ORIGINAL}"
    return crlf(f"""\
Return-Path: <>
From: MAILER-DAEMON@mx.client.example (Mail Delivery System)
To: rita@team.example
Subject: Undelivered Mail Returned to Sender
Date: Mon, 23 Nov 2026 09:15:04 +0100 (CET)
Message-Id: <20261123081504.6B2F8A0123@mx.client.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="6B2F8A0123.1763885704/mx.client.example"

This is a MIME-encapsulated message.

--6B2F8A0123.1763885704/mx.client.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.client.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nina@client.example>: host mail.client.example[192.0.2.7] said: 550 5.1.1
    <nina@client.example>: Recipient address rejected: User unknown

--6B2F8A0123.1763885704/mx.client.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.client.example
X-Postfix-Queue-ID: 6B2F8A0123
X-Postfix-Sender: rfc822; rita@team.example
Arrival-Date: Mon, 23 Nov 2026 09:15:02 +0100 (CET)

Final-Recipient: rfc822; nina@client.example
Original-Recipient: rfc822;nina@client.example
Action: {action}
Status: {status}
Remote-MTA: dns; mail.client.example
Diagnostic-Code: smtp; 550 5.1.1 <nina@client.example>: Recipient address
    rejected: User unknown

--6B2F8A0123.1763885704/mx.client.example
Content-Description: Undelivered Message
{returned}
--6B2F8A0123.1763885704/mx.client.example--
""")


def exchange_ndr() -> bytes:
    """Exchange Online's non-delivery report: from a mailbox no daemon pattern names."""
    return crlf(f"""\
From: Microsoft Outlook
 <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@client.example>
To: <rita@team.example>
Date: Mon, 23 Nov 2026 08:15:06 +0000
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="a6f3e8b2-ndr"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <d3e1f0c2-ndr@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>
In-Reply-To: <CAF-sent-1@mail.team.example>
References: <CAF-sent-1@mail.team.example>
Thread-Topic: Pricing for Q3
Subject: Undeliverable: Pricing for Q3
Auto-Submitted: auto-replied
MIME-Version: 1.0

--a6f3e8b2-ndr
Content-Type: multipart/alternative; differences=Content-Type;
\tboundary="b7c4-alt"

--b7c4-alt
Content-Type: text/plain; charset="us-ascii"

Your message to nina@client.example couldn't be delivered.
nina wasn't found at client.example.

--b7c4-alt
Content-Type: text/html; charset="us-ascii"

<html><body><p>Your message to nina@client.example couldn't be delivered.</p></body></html>

--b7c4-alt--

--a6f3e8b2-ndr
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com
Received-From-MTA: dns;mail.team.example
Arrival-Date: Mon, 23 Nov 2026 08:15:05 +0000

Final-Recipient: rfc822;nina@client.example
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
 found by SMTP address lookup

--a6f3e8b2-ndr
Content-Type: message/rfc822

{ORIGINAL}
--a6f3e8b2-ndr--
""")


def google_workspace_bounce() -> bytes:
    """Google Workspace's report can leave the delivery-status part empty: the failed
    address is in X-Failed-Recipients, the original attached."""
    return crlf(f"""\
Return-Path: <>
Content-Type: multipart/report; boundary="000000000000ca2d"; report-type=delivery-status
To: rita@team.example
Auto-Submitted: auto-replied
Message-ID: <63fc15e0.050a0220.58de0.183e.GMR@mx.google.com>
Date: Mon, 23 Nov 2026 00:15:06 -0800 (PST)
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
Subject: Delivery Status Notification (Failure)
X-Failed-Recipients: nina@client.example

--000000000000ca2d
Content-Type: multipart/related; boundary="000000000000ca33"

--000000000000ca33
Content-Type: text/plain; charset="UTF-8"

** Message not delivered **
The response was: 550 5.1.1 The email account that you tried to reach does not exist.

--000000000000ca33
Content-Type: image/png; name="icon.png"
Content-Disposition: attachment; filename="icon.png"
Content-Transfer-Encoding: base64
Content-ID: <icon.png>

iVBORw0KGgo=
--000000000000ca33--

--000000000000ca2d
Content-Type: message/delivery-status

--000000000000ca2d
Content-Type: message/rfc822

{ORIGINAL}
--000000000000ca2d--
""")


def gmail_bounce(action: str = "failed", status: str = "5.1.1", subject: str = "Failure") -> bytes:
    """Gmail's: X-Failed-Recipients, X-Original-Message-ID in the report, headers returned."""
    failed = "X-Failed-Recipients: nina@client.example\n" if action == "failed" else ""
    return crlf(f"""\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: rita@team.example
Auto-Submitted: auto-replied
Subject: Delivery Status Notification ({subject})
References: <CAF-sent-1@mail.team.example>
In-Reply-To: <CAF-sent-1@mail.team.example>
{failed}Message-ID: <6a1b2c3d.gmr@mx.google.com>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="00000000000032ff"; report-type=delivery-status

--00000000000032ff
Content-Type: text/plain; charset="UTF-8"

There was a problem delivering your message to nina@client.example.

--00000000000032ff
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; rita@team.example
Arrival-Date: Mon, 23 Nov 2026 00:15:02 -0800 (PST)
X-Original-Message-ID: <CAF-sent-1@mail.team.example>

Final-Recipient: rfc822; nina@client.example
Action: {action}
Status: {status}
Remote-MTA: dns; mx.client.example. (192.0.2.7, the server for the
 domain client.example.)
Diagnostic-Code: smtp; 451 4.4.4 Mail received as unauthenticated
Last-Attempt-Date: Mon, 23 Nov 2026 00:15:04 -0800 (PST)

--00000000000032ff
Content-Type: text/rfc822-headers; charset="UTF-8"

{ORIGINAL.split(chr(10) + chr(10))[0]}

--00000000000032ff--
""")


EXIM_BOUNCE = message(
    """\
Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mx.client.example>
To: rita@team.example
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1qXyZ-0001Ab-Cd@mx.client.example>
X-Failed-Recipients: nina@client.example
Auto-Submitted: auto-replied
Date: Mon, 23 Nov 2026 09:15:04 +0100
""",
    """\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nina@client.example
    host mail.client.example [192.0.2.7]
    SMTP error from remote mail server after RCPT TO:<nina@client.example>:
    550 5.1.1 User unknown
""",
)

QMAIL_BOUNCE = message(
    """\
From: MAILER-DAEMON@mx.client.example
To: rita@team.example
Subject: failure notice
Date: 23 Nov 2026 08:15:04 -0000
Message-ID: <20261123081504.12345.qmail@mx.client.example>
""",
    """\
Hi. This is the qmail-send program at mx.client.example.
I'm afraid I wasn't able to deliver your message to the following addresses.

<nina@client.example>:
Sorry, no mailbox here by that name. (#5.1.1)
""",
)


@BOTH_WAYS
@pytest.mark.parametrize(
    ("build", "failed"),
    [
        (postfix_bounce, ("nina@client.example",)),
        (exchange_ndr, ("nina@client.example",)),
        (google_workspace_bounce, ("nina@client.example",)),
        (gmail_bounce, ("nina@client.example",)),
    ],
    ids=["postfix", "exchange", "google-workspace", "gmail"],
)
def test_delivery_reports_of_failures_are_bounces_with_the_facts(
    parse: Parse, build: Callable[[], bytes], failed: tuple[str, ...]
) -> None:
    parsed = parse(build())
    assert message_kind(parsed) is MessageKind.bounce
    assert is_bounce(parsed)
    assert parsed.failed_recipients == failed
    assert parsed.original_message_id == "<CAF-sent-1@mail.team.example>"


@BOTH_WAYS
def test_a_bounce_is_a_bounce_although_it_says_it_was_auto_replied(parse: Parse) -> None:
    parsed = parse(postfix_bounce())
    assert parsed.auto_submitted == "auto-replied"
    assert message_kind(parsed) is MessageKind.bounce


@BOTH_WAYS
def test_the_report_reads_each_recipient_and_unfolds_its_fields(parse: Parse) -> None:
    parsed = parse(postfix_bounce())
    assert parsed.delivery_status == (RecipientStatus("nina@client.example", "failed", "5.1.1"),)
    assert parsed.report_type == "delivery-status"


@BOTH_WAYS
def test_only_the_returned_headers_still_name_the_original(parse: Parse) -> None:
    headers = "Content-Type: text/rfc822-headers\n\n" + ORIGINAL.split("\n\n")[0] + "\n"
    parsed = parse(postfix_bounce(returned=headers))
    assert message_kind(parsed) is MessageKind.bounce
    assert parsed.original_message_id == "<CAF-sent-1@mail.team.example>"


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("failed", "5.1.1", MessageKind.bounce),
        ("failure", "5.1.1", MessageKind.bounce),  # not the RFC's word; some MTAs' all the same
        ("expired", "4.4.7", MessageKind.bounce),  # retried until it gave up
        ("failed", "4.4.7", MessageKind.bounce),
        ("", "5.2.2", MessageKind.bounce),  # no Action field: a permanent status says it
        ("delayed", "4.4.7", MessageKind.bulk),  # still being retried: a notice, no failure
        ("delivered", "2.0.0", MessageKind.bulk),
        ("relayed", "2.0.0", MessageKind.bulk),
    ],
)
def test_what_a_recipients_action_and_status_say(
    action: str, status: str, expected: MessageKind
) -> None:
    raw = postfix_bounce(action, status)
    if not action:
        raw = raw.replace(b"Action: \r\n", b"")
    assert kind(raw) is expected


@BOTH_WAYS
def test_a_delay_notice_is_no_bounce_and_no_auto_reply(parse: Parse) -> None:
    parsed = parse(gmail_bounce("delayed", "4.4.4", subject="Delay"))
    assert not is_bounce(parsed)
    assert parsed.failed_recipients == ()
    assert parsed.auto_submitted == "auto-replied"
    assert message_kind(parsed) is MessageKind.bulk


def test_an_empty_report_is_a_failure_unless_its_subject_says_delay() -> None:
    failure = google_workspace_bounce().replace(
        b"X-Failed-Recipients: nina@client.example\r\n", b""
    )
    assert kind(failure) is MessageKind.bounce
    delay = failure.replace(b"(Failure)", b"(Delay)")
    assert kind(delay) is MessageKind.bulk


@BOTH_WAYS
def test_plain_text_bounces_from_exim_and_qmail(parse: Parse) -> None:
    exim = parse(EXIM_BOUNCE)
    assert message_kind(exim) is MessageKind.bounce
    assert exim.failed_recipients == ("nina@client.example",)
    assert message_kind(parse(QMAIL_BOUNCE)) is MessageKind.bounce


def test_a_daemons_other_mail_is_bulk() -> None:
    notice = message("""\
From: MAILER-DAEMON@mx.client.example
To: rita@team.example
Subject: Postmaster notify: see transcript for details of the queue
""")
    assert kind(notice) is MessageKind.bulk


def test_a_daemons_report_with_a_silent_subject_is_read_by_its_first_lines() -> None:
    # Exchange 2003 sends "Subject: <the original subject>"; Apache James answers "Re:".
    exchange = message(
        """\
From: System Administrator <postmaster@mail.client.example>
To: rita@team.example
Subject: Pricing
""",
        "Your message\n\n  To: nina@client.example\n\ndid not reach the following recipient(s):\n",
    )
    james = message(
        """\
From: post_master@gateway.client.example
To: rita@team.example
Subject: Re:Pricing
""",
        "Error: Invalid user address\n\nError message below:\n550 no such user here\n",
    )
    assert kind(exchange) is MessageKind.bounce
    assert kind(james) is MessageKind.bounce


def test_a_gateway_signing_as_someone_else_says_it_twice() -> None:
    # Verizon's MMS gateway signs as sysadmin@: a failure subject and a failure opening.
    gateway = message(
        """\
From: MMSC NDR Administrator <sysadmin@mms.client.example>
To: rita@team.example
Subject: Undeliverable Message
""",
        "Message could not be delivered to mobile.\nError: No valid recipients for this MM\n",
    )
    assert kind(gateway) is MessageKind.bounce
    # A person's reply or forward with the same words is their mail, and so is a subject
    # alone or an opening alone.
    for subject, body in (
        ("Re: Undeliverable Message", "Message could not be delivered to mobile, you said?\n"),
        ("Fwd: Undeliverable Message", "Message could not be delivered to mobile.\n"),
        ("Undeliverable Message", "Can you check why this keeps happening?\n"),
        ("Quick question", "Your parcel could not be delivered to the office.\n"),
    ):
        person = message(f"From: Nina Berg <nina@client.example>\nSubject: {subject}\n", body)
        assert kind(person) is MessageKind.person, subject


def test_a_bounce_forwarded_by_a_person_is_their_mail() -> None:
    forwarded = crlf(
        """\
From: Nina Berg <nina@client.example>
To: rita@team.example
Subject: Fwd: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fw"

--fw
Content-Type: text/plain

This bounced when I wrote to my colleague, any idea?

--fw
Content-Type: message/rfc822

"""
        + postfix_bounce().decode()
        + "\n--fw--\n"
    )
    parsed = parse_raw(forwarded)
    assert message_kind(parsed) is MessageKind.person
    assert parsed.failed_recipients == ()


# --- auto-replies ----------------------------------------------------------------------

REPLY_HEADERS = """\
From: Nina Berg <nina@client.example>
To: Rita Rep <rita@team.example>
Date: Mon, 23 Nov 2026 08:15:09 +0000
Message-ID: <reply-1@client.example>
In-Reply-To: <CAF-sent-1@mail.team.example>
References: <CAF-root@mail.team.example> <CAF-sent-1@mail.team.example>
"""


def reply(headers: str, subject: str = "Re: Pricing for Q3") -> bytes:
    return message(f"{REPLY_HEADERS}Subject: {subject}\n{headers}", "I am away until Monday.\n")


OUTLOOK_OUT_OF_OFFICE = """\
Return-Path: <>
Thread-Topic: Pricing for Q3
Thread-Index: AQHZ1234abcd==
X-MS-Has-Attach:
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: nina@client.example
X-MS-TNEF-Correlator:
Content-Type: text/plain; charset="us-ascii"
"""


@BOTH_WAYS
@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ("Auto-Submitted: auto-replied\n", "Re: Pricing for Q3"),  # RFC 3834
        ("Auto-Submitted: auto-replied (zimbra; vacation)\n", "Out of office"),
        ("Auto-Submitted: Auto-Generated\n", "Thanks for your mail"),
        ("Auto-Submitted: auto-notified\n", "Re: Pricing for Q3"),  # RFC 5436
        ("Precedence: auto_reply\n", "Re: Pricing for Q3"),
        ("X-Autoreply: yes\n", "Re: Pricing for Q3"),
        ("X-Autorespond: Re: Pricing for Q3\n", "Re: Pricing for Q3"),
        ("X-Apple-Action: vacation\n", "Re: Pricing for Q3"),  # iCloud
        # Gmail's vacation responder: its Precedence is bulk, the mail an auto-reply.
        ("Auto-Submitted: auto-replied\nPrecedence: bulk\n", "Away until Monday"),
        # Outlook and Exchange: no Auto-Submitted, in the sender's language.
        (OUTLOOK_OUT_OF_OFFICE, "Automatic reply: Pricing for Q3"),
        (OUTLOOK_OUT_OF_OFFICE, "Automatische Antwort: Angebot"),
        (OUTLOOK_OUT_OF_OFFICE, "=?utf-8?q?R=C3=A9ponse_automatique_=3A_Devis?="),
        (OUTLOOK_OUT_OF_OFFICE, "=?utf-8?b?6Ieq5Yqo562U5aSNOiDmiqXku7c=?="),  # 自动答复: 报价
        (OUTLOOK_OUT_OF_OFFICE, "=?utf-8?q?Respuesta_autom=C3=A1tica=3A?="),
        ("Content-Type: text/plain\n", "Automatic reply: Pricing for Q3"),  # the subject alone
        # An Outlook rule that answers with a subject of its own.
        (OUTLOOK_OUT_OF_OFFICE, "Thanks for contacting Client Inc."),
    ],
)
def test_auto_replies(parse: Parse, headers: str, subject: str) -> None:
    assert kind(reply(headers, subject), parse) is MessageKind.auto_reply


@BOTH_WAYS
def test_an_out_of_office_keeps_what_it_answers(parse: Parse) -> None:
    parsed = parse(reply("Auto-Submitted: auto-replied\n"))
    assert parsed.in_reply_to == "<CAF-sent-1@mail.team.example>"
    assert parsed.references == ("<CAF-root@mail.team.example>", "<CAF-sent-1@mail.team.example>")
    assert parsed.auto_submitted == "auto-replied"


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        # Asks others not to auto-reply to this mail: says nothing about the mail itself.
        ("X-Auto-Response-Suppress: All\n", "Re: Pricing for Q3"),
        ("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply\n", "Re: Pricing for Q3"),
        ("Auto-Submitted: no\n", "Re: Pricing for Q3"),
        ("X-Autoreply: no\n", "Re: Pricing for Q3"),
        ("Content-Type: text/plain\n", "Re: Automatic reply: Pricing for Q3"),  # answering one
        ("Content-Type: text/plain\n", "Automatic replies in our product"),  # no colon
        # An Outlook rule that forwards: the loop header alone is no reply.
        ("X-MS-Exchange-Inbox-Rules-Loop: nina@client.example\n", "FW: Pricing for Q3"),
    ],
)
def test_person_mail_that_looks_a_little_automatic(headers: str, subject: str) -> None:
    assert kind(reply(headers, subject)) is MessageKind.person


def test_an_auto_reply_from_a_machine_or_with_an_unsubscribe_link_is_bulk() -> None:
    noreply = reply("Auto-Submitted: auto-replied\n").replace(
        b"Nina Berg <nina@client.example>", b"noreply@client.example"
    )
    assert kind(noreply) is MessageKind.bulk
    newsletter = "Auto-Submitted: auto-generated\nList-Unsubscribe: <mailto:u@news.example>\n"
    assert kind(reply(newsletter, "Our November news")) is MessageKind.bulk


def test_a_read_receipt_is_an_auto_reply() -> None:
    receipt = crlf(f"""\
{REPLY_HEADERS}Subject: Read: Pricing for Q3
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"

--mdn
Content-Type: text/plain

Your message was read on Monday, 23 November 2026 09:20:00 (UTC+01:00).

--mdn
Content-Type: message/disposition-notification

Reporting-UA: client.example; Microsoft Outlook 16.0
Final-Recipient: rfc822;nina@client.example
Original-Message-ID: <CAF-sent-1@mail.team.example>
Disposition: manual-action/MDN-sent-manually; displayed

--mdn--
""")
    assert kind(receipt) is MessageKind.auto_reply


# --- bulk and person mail ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("List-Unsubscribe: <https://news.example/u/1>\n", MessageKind.bulk),
        ("List-Id: Weekly <weekly.news.example>\n", MessageKind.bulk),
        ("Precedence: bulk\n", MessageKind.bulk),
        ("Precedence: list\n", MessageKind.bulk),
        ("", MessageKind.person),
        ("Precedence: first-class\n", MessageKind.person),
    ],
)
def test_bulk_and_person_mail(headers: str, expected: MessageKind) -> None:
    assert kind(reply(headers)) is expected


def test_the_teams_own_group_makes_no_list_mail() -> None:
    via_group = reply(
        "List-Id: <sales.team.example>\nList-Unsubscribe: <mailto:u@team.example>\n"
        "Precedence: list\n"
    )
    assert kind(via_group) is MessageKind.bulk
    assert kind(via_group, own_lists=("sales@team.example",)) is MessageKind.person
    out_of_office = reply("List-Id: <sales.team.example>\nAuto-Submitted: auto-generated\n")
    assert kind(out_of_office, own_lists=("sales@team.example",)) is MessageKind.auto_reply


@pytest.mark.parametrize(
    "sender", ["noreply@github.com", "MAILER-DAEMON@mx.client.example", "bounces+1@mail.example"]
)
def test_automated_senders_are_bulk(sender: str) -> None:
    raw = message(f"From: {sender}\nTo: rita@team.example\nSubject: Your weekly summary\n")
    assert kind(raw) is MessageKind.bulk


# --- stored ------------------------------------------------------------------------------


def test_each_row_carries_its_kind_and_facts(session: Session) -> None:
    box = factories.MailboxFactory(email="rita@team.example")
    raws = {
        "bounce": postfix_bounce(),
        "away": reply(OUTLOOK_OUT_OF_OFFICE, "Automatic reply: Pricing for Q3"),
        "gmail-away": reply("Auto-Submitted: auto-replied\nPrecedence: bulk\n", "Away"),
        "delay": gmail_bounce("delayed", "4.4.4", subject="Delay"),
        "answer": reply(""),
    }
    batch = [
        parse_message(to_gmail_json(raw, gmail_id=name, thread_id=f"t-{name}"))
        for name, raw in raws.items()
    ]
    store_messages(session, box, batch)
    rows = {m.gmail_id: m for m in session.scalars(select(Message))}
    facts = {
        name: (
            m.kind,
            m.in_reply_to,
            m.references,
            m.auto_submitted,
            m.failed_recipients,
            m.original_message_id,
        )
        for name, m in rows.items()
    }
    thread = ["<CAF-root@mail.team.example>", "<CAF-sent-1@mail.team.example>"]
    assert facts == {
        "bounce": (
            MessageKind.bounce,
            None,
            [],
            "auto-replied",
            ["nina@client.example"],
            "<CAF-sent-1@mail.team.example>",
        ),
        "away": (MessageKind.auto_reply, thread[1], thread, None, [], None),
        "gmail-away": (MessageKind.auto_reply, thread[1], thread, "auto-replied", [], None),
        # A delay names no failed recipient, and is not kept as a bounce's original.
        "delay": (MessageKind.bulk, thread[1], thread[1:], "auto-replied", [], None),
        "answer": (MessageKind.person, thread[1], thread, None, [], None),
    }


def test_a_long_references_header_keeps_the_root_and_the_nearest(session: Session) -> None:
    box = factories.MailboxFactory(email="rita@team.example")
    ids = [f"<m{i}@client.example>" for i in range(300)]
    raw = message(
        f"From: nina@client.example\nTo: rita@team.example\nReferences: {' '.join(ids)}\n"
    )
    store_messages(session, box, [parse_message(to_gmail_json(raw))])
    stored = session.scalars(select(Message.references)).one()
    assert len(stored) == MAX_REFERENCES
    assert stored[0] == ids[0]
    assert stored[1:] == ids[-(MAX_REFERENCES - 1) :]

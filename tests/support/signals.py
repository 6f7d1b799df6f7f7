"""Real-world shapes of the mail engagement signals are read from, as raw RFC 5322 text:
delivery reports from Gmail, Microsoft 365, Postfix, Exim, qmail and Sendmail;
out-of-office replies; calendar answers; and helpers that hand them to the sync as
Gmail would (`fetched`)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.gmail_json import to_gmail_json
from tests.support.synced import START_MS

_ids = itertools.count(1)
DATE = "Mon, 23 Nov 2026 10:00:00 +0000"


def fetched(
    raw: str | bytes, *, thread: str = "t1", minute: int = 0, sent: bool = False
) -> dict[str, Any]:
    """A raw message as its mailbox's Gmail returns it, `minute`s after the start."""
    data = raw.encode() if isinstance(raw, str) else raw
    return to_gmail_json(
        data,
        gmail_id=f"s{next(_ids):06d}",
        thread_id=thread,
        label_ids=("SENT",) if sent else ("INBOX",),
        internal_date_ms=START_MS + minute * 60_000,
    )


def message(*headers: str, body: str = "Hello") -> str:
    return "\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n"


def _report(sender: str, to: str, subject: str, human: str, status: str, returned: str) -> str:
    return message(
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <dsn{next(_ids)}@mx.example>",
        f"Date: {DATE}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="RPT"',
        body=(
            "--RPT\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{human}\n\n"
            "--RPT\nContent-Type: message/delivery-status\n\n"
            f"{status}\n\n"
            "--RPT\nContent-Type: text/rfc822-headers\n\n"
            f"{returned}\n"
            "--RPT--"
        ),
    )


def returned_headers(sender: str, to: str, message_id: str) -> str:
    return f"From: {sender}\nTo: {to}\nSubject: Proposal\nMessage-ID: {message_id}\n"


def gmail_bounce(
    sender: str, recipient: str, message_id: str, *, status: str, diagnostic: str
) -> str:
    """Gmail's "Delivery Status Notification (Failure)"."""
    return _report(
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        sender,
        "Delivery Status Notification (Failure)",
        f"** Address not found **\n\nYour message wasn't delivered to {recipient} because "
        "the address couldn't be found, or is unable to receive mail.",
        "Reporting-MTA: dns; googlemail.com\n"
        "Received-From-MTA: dns; ava.reed@northwind.io\n"
        f"X-Original-Message-ID: {message_id}\n\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        "Action: failed\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; mx.example. (192.0.2.10, the server for the domain.)\n"
        f"Diagnostic-Code: smtp; {diagnostic}\n"
        "Last-Attempt-Date: Mon, 23 Nov 2026 02:00:00 -0800 (PST)",
        returned_headers(sender, recipient, message_id),
    )


def postfix_bounce(
    sender: str, recipient: str, message_id: str, *, status: str, diagnostic: str,
    action: str = "failed",
) -> str:  # fmt: skip
    """Postfix's "Undelivered Mail Returned to Sender"."""
    return _report(
        "MAILER-DAEMON@mail.example (Mail Delivery System)",
        sender,
        "Undelivered Mail Returned to Sender" if action == "failed" else "Delayed Mail",
        "This is the mail system at host mail.example.\n\nI'm sorry to have to inform you "
        "that your message could not\nbe delivered to one or more recipients.\n\n"
        f"<{recipient}>: host mx.example[192.0.2.2] said: {diagnostic}",
        "Reporting-MTA: dns; mail.example\nX-Postfix-Queue-ID: 4FA2B1C2D3\n"
        f"Arrival-Date: {DATE}\n\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        f"Original-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; mx.example\n"
        f"Diagnostic-Code: smtp; {diagnostic}",
        returned_headers(sender, recipient, message_id),
    )


def exchange_bounce(sender: str, recipient: str, message_id: str) -> str:
    """Microsoft 365's non-delivery report for an address that does not exist."""
    return _report(
        "Microsoft Outlook <postmaster@outlook.example>",
        sender,
        "Undeliverable: Proposal",
        f"Your message to {recipient} couldn't be delivered.\n"
        f"{recipient.split('@')[0]} wasn't found at {recipient.split('@')[1]}.\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
        "found by SMTP address lookup'",
        "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.outlook.com\n"
        f"Received-From-MTA: dns;{sender.split('@')[1]}\n"
        f"Arrival-Date: {DATE}\n\n"
        f"Final-Recipient: rfc822;{recipient}\n"
        "Action: failed\n"
        "Status: 5.1.10\n"
        "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
        "found by SMTP address lookup",
        returned_headers(sender, recipient, message_id),
    )


def exim_bounce(sender: str, recipient: str, diagnostic: str) -> str:
    """Exim's plain-text bounce: no status part, X-Failed-Recipients and words."""
    return message(
        "From: Mail Delivery System <Mailer-Daemon@mx.host.example>",
        f"To: {sender}",
        "Subject: Mail delivery failed: returning message to sender",
        f"Message-ID: <exim{next(_ids)}@mx.host.example>",
        f"X-Failed-Recipients: {recipient}",
        "Auto-Submitted: auto-replied",
        f"Date: {DATE}",
        body=(
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            f"  {recipient}\n"
            f"    host mx.example [192.0.2.3]\n    {diagnostic}\n\n"
            "------ This is a copy of the message, including all the headers. ------\n\n"
            f"From: {sender}\nTo: {recipient}\nSubject: Proposal\n\nHello, user unknown"
        ),
    )


def qmail_bounce(sender: str, recipient: str, said: str) -> str:
    """qmail's "failure notice": words only, from MAILER-DAEMON."""
    return message(
        "From: MAILER-DAEMON@qmail.example",
        f"To: {sender}",
        "Subject: failure notice",
        f"Message-ID: <qmail{next(_ids)}@qmail.example>",
        f"Date: {DATE}",
        body=(
            "Hi. This is the qmail-send program at qmail.example.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            f"<{recipient}>:\n192.0.2.4 does not like recipient.\n"
            f"Remote host said: {said}\nGiving up on 192.0.2.4.\n\n"
            "--- Below this line is a copy of the message.\n\n"
            f"From: {sender}\nTo: {recipient}\nSubject: Proposal\n"
        ),
    )


def out_of_office(sender: str, to: str, subject: str, text: str, **extra: str) -> str:
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <ooo{next(_ids)}@{sender.split('@')[-1].strip('>')}>",
        f"Date: {DATE}",
        *(f"{k}: {v}" for k, v in extra.items()),
    ]
    return message(*headers, "Content-Type: text/plain; charset=utf-8", body=text)


def calendar_reply(attendee: str, organizer: str, ics: str, subject: str) -> str:
    """A calendar's answer to an invitation: text and a text/calendar part."""
    return message(
        f"From: {attendee}",
        f"To: {organizer}",
        f"Subject: {subject}",
        f"Message-ID: <cal{next(_ids)}@calendar.example>",
        f"Date: {DATE}",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="CAL"',
        body=(
            "--CAL\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{attendee} has accepted this invitation.\n\n"
            '--CAL\nContent-Type: text/calendar; charset="UTF-8"; method=REPLY\n\n'
            f"{ics}\n--CAL--"
        ),
    )


def ics_reply(attendee: str, partstat: str = "ACCEPTED", method: str = "REPLY") -> str:
    return "\n".join(
        [
            "BEGIN:VCALENDAR",
            "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
            "VERSION:2.0",
            f"METHOD:{method}",
            "BEGIN:VEVENT",
            "DTSTART:20261201T150000Z",
            "DTEND:20261201T153000Z",
            "DTSTAMP:20261123T100000Z",
            "ORGANIZER;CN=Ava Reed:mailto:ava.reed@northwind.io",
            "UID:demo-1234@google.com",
            f'ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};CN="Berg, ',
            f' Nina";X-NUM-GUESTS=0:mailto:{attendee}',
            "SUMMARY:Demo: Northwind x Vandelay",
            "STATUS:CONFIRMED",
            "END:VEVENT",
            "END:VCALENDAR",
        ]
    )

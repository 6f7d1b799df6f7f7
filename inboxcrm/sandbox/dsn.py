"""Delivery status notifications (RFC 3464) as three real mail systems write them.

Gmail writes the report when the remote server refuses at SMTP time; Microsoft 365 and
Postfix write it when the recipient's own system accepted the mail and gave up later.
Each names the failure in its own words and status codes, so the app's bounce classifier
sees the variety it meets in real mailboxes. Postfix's report carries no In-Reply-To:
only the returned headers tie it to the message.
"""

import secrets
from dataclasses import dataclass
from email.utils import formatdate

MTAS = ("gmail", "microsoft", "postfix")


@dataclass(frozen=True)
class Failure:
    """One way delivery fails, per reporting system: (status, diagnostic) with {addr} and
    {domain} filled in. `delayed` reports say the system will keep trying."""

    name: str
    delayed: bool
    gmail: tuple[str, str]
    microsoft: tuple[str, str]
    postfix: tuple[str, str]

    @property
    def hard(self) -> bool:
        return not self.delayed and self.name in ("unknown", "domain", "moved")


_FAILURES = (
    Failure(
        "unknown", False,
        ("5.1.1", "smtp; 550-5.1.1 The email account that you tried to reach does not exist."
                  " Please try double-checking the recipient's email address for typos or"
                  " unnecessary spaces."),
        ("5.1.10", "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by"
                   " SMTP address lookup"),
        ("5.1.1", "smtp; 550 5.1.1 <{addr}>: Recipient address rejected: User unknown in"
                  " virtual mailbox table"),
    ),
    Failure(
        "domain", False,
        ("5.1.2", "smtp; DNS Error: DNS type 'mx' lookup of {domain} responded with code"
                  " NXDOMAIN Domain name not found: {domain}"),
        ("5.4.310", "smtp;550 5.4.310 DNS domain {domain} does not exist"
                    " [Message=InfoDomainNonexistent]"),
        ("5.4.4", "X-Postfix; Host or domain name not found. Name service error for"
                  " name={domain} type=MX: Host not found"),
    ),
    Failure(
        "moved", False,
        ("5.1.6", "smtp; 551 5.1.6 The user {addr} has moved and no longer receives mail here."),
        ("5.1.6", "smtp;550 5.1.6 RESOLVER.ADR.RecipientMoved; recipient has moved"),
        ("5.1.6", "smtp; 551 5.1.6 <{addr}>: Recipient address rejected: User has moved"),
    ),
    Failure(
        "full", False,
        ("5.2.2", "smtp; 552-5.2.2 The email account that you tried to reach is over quota"
                  " and inactive."),
        ("5.2.2", "smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:"
                  "QuotaExceededException.MapiExceptionShutoffQuotaExceeded"),
        ("5.2.2", "smtp; 552 5.2.2 <{addr}>: Recipient address rejected: Mailbox full"),
    ),
    Failure(
        "full_temp", True,
        ("4.2.2", "smtp; 452-4.2.2 The recipient's inbox is out of storage space. Please"
                  " direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp"),
        ("4.2.2", "smtp;452 4.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceeded"),
        ("4.2.2", "smtp; 452 4.2.2 <{addr}>: Mailbox full"),
    ),
    Failure(
        "deferred", True,
        ("4.4.1", "smtp; 421 4.4.1 Connection timed out"),
        ("4.4.7", "smtp;400 4.4.7 Message delayed"),
        ("4.4.1", "X-Postfix; connect to mx.{domain}[192.0.2.25]:25: Connection timed out"),
    ),
    Failure(
        "too_large", False,
        ("5.3.4", "smtp; 552-5.3.4 Your message exceeded Google's message size limits."),
        ("5.3.4", "smtp;552 5.3.4 Message size exceeds fixed maximum message size"),
        ("5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed limit"),
    ),
    Failure(
        "blocked", False,
        ("5.7.1", "smtp; 550-5.7.1 [192.0.2.1] Our system has detected that this message is"
                  " likely unsolicited mail. To reduce the amount of spam sent to Gmail, this"
                  " message has been blocked."),
        ("5.7.1", "smtp;550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using"
                  " Spamhaus. To request removal from this list see https://www.spamhaus.org/"),
        ("5.7.1", "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked"
                  " using zen.spamhaus.org"),
    ),
)  # fmt: skip
FAILURES = {f.name: f for f in _FAILURES}


@dataclass(frozen=True)
class Original:
    """What a report quotes of the message it is about."""

    sender: str
    recipient: str
    subject: str
    message_id: str
    headers: bytes  # the original's header block, as sent


def report(failure: Failure, mta: str, original: Original, now: float) -> bytes:
    """The whole report message, as `mta` would deliver it to the sender's inbox."""
    if mta not in MTAS:
        raise ValueError(f"unknown mta {mta!r}: use one of {', '.join(MTAS)}")
    addr = original.recipient
    domain = addr.rpartition("@")[2]
    status, diagnostic = getattr(failure, mta)
    diagnostic = diagnostic.format(addr=addr, domain=domain)
    action = "delayed" if failure.delayed else "failed"
    date = formatdate(now)
    retry_until = formatdate(now + 5 * 86400)
    boundary = secrets.token_hex(12)
    if mta == "gmail":
        head, human, fields = _gmail(
            failure, original, status, diagnostic, action, date, retry_until
        )
    elif mta == "microsoft":
        head, human, fields = _microsoft(
            failure, original, status, diagnostic, action, date, retry_until
        )
    else:
        head, human, fields = _postfix(
            failure, original, status, diagnostic, action, date, retry_until
        )
    returned_type = "message/rfc822" if mta == "microsoft" else "text/rfc822-headers"
    head += [
        f"Date: {date}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ]
    text = (
        "\r\n".join(head) + "\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{human}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{fields}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: {returned_type}\r\n\r\n"
    )
    returned = original.headers.rstrip(b"\r\n") + b"\r\n"
    if returned_type == "message/rfc822":
        returned += b"\r\n"  # headers only: a message with an empty body
    return text.encode() + returned + f"\r\n--{boundary}--\r\n".encode()


def _lines(*lines: str) -> str:
    return "\r\n".join(lines)


def _gmail(
    f: Failure, o: Original, status: str, diagnostic: str, action: str, date: str, retry: str
) -> tuple[list[str], str, str]:
    head = [
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        f"To: {o.sender}",
        f"Subject: Delivery Status Notification ({'Delay' if f.delayed else 'Failure'})",
        f"Message-ID: <{secrets.token_hex(12)}@mx.google.com>",
        f"In-Reply-To: {o.message_id}",
        f"References: {o.message_id}",
    ]
    if not f.delayed:
        head.append(f"X-Failed-Recipients: {o.recipient}")
    if f.delayed:
        human = (
            "** Delivery incomplete **\r\n\r\nThere was a temporary problem delivering your"
            f" message to {o.recipient}. Gmail will retry for 47 more hours. You'll be"
            " notified if the delivery fails permanently."
        )
    elif f.hard:
        human = (
            f"** Address not found **\r\n\r\nYour message wasn't delivered to {o.recipient}"
            " because the address couldn't be found, or is unable to receive mail."
        )
    else:
        human = (
            f"** Message not delivered **\r\n\r\nThere was a problem delivering your message"
            f" to {o.recipient}. See the technical details below."
        )
    human += f"\r\n\r\nThe response was:\r\n\r\n{diagnostic.removeprefix('smtp; ')}"
    fields = _lines(
        "Reporting-MTA: dns; googlemail.com",
        "Received-From-MTA: dns; " + o.sender,
        f"Arrival-Date: {date}",
        f"X-Original-Message-ID: {o.message_id}",
        "",
        f"Final-Recipient: rfc822; {o.recipient}",
        f"Action: {action}",
        f"Status: {status}",
        f"Remote-MTA: dns; mx.{o.recipient.rpartition('@')[2]}. (192.0.2.10, the server for"
        f" the domain {o.recipient.rpartition('@')[2]}.)",
        f"Diagnostic-Code: {diagnostic}",
        f"Last-Attempt-Date: {date}",
        *([f"Will-Retry-Until: {retry}"] if f.delayed else []),
    )
    return head, human, fields


def _microsoft(
    f: Failure, o: Original, status: str, diagnostic: str, action: str, date: str, retry: str
) -> tuple[list[str], str, str]:
    domain = o.recipient.rpartition("@")[2]
    verb = "Delivery delayed:" if f.delayed else "Undeliverable:"
    head = [
        f"From: Microsoft Outlook <postmaster@{domain}>",
        f"To: {o.sender}",
        f"Subject: {verb} {o.subject}",
        f"Message-ID: <{secrets.token_hex(12)}@EUR01-AM0-obe.outbound.protection.outlook.com>",
        f"In-Reply-To: {o.message_id}",
        f"References: {o.message_id}",
        f"Thread-Topic: {o.subject}",
        "Content-Language: en-US",
        "X-MS-Exchange-Message-Is-Ndr:",
    ]
    if f.delayed:
        human = (
            f"Delivery is delayed to these recipients or groups:\r\n\r\n{o.recipient}\r\n\r\n"
            "This message hasn't been delivered yet. Delivery will continue to be attempted."
        )
    else:
        human = (
            f"Your message to {o.recipient} couldn't be delivered.\r\n\r\n"
            f"Remote Server returned '{diagnostic.removeprefix('smtp;')}'"
        )
    fields = _lines(
        "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.outlook.com",
        f"Received-From-MTA: dns;{o.sender.rpartition('@')[2]}",
        f"Arrival-Date: {date}",
        "",
        f"Final-Recipient: rfc822;{o.recipient}",
        f"Action: {action}",
        f"Status: {status}",
        f"Diagnostic-Code: {diagnostic}",
    )
    return head, human, fields


def _postfix(
    f: Failure, o: Original, status: str, diagnostic: str, action: str, date: str, retry: str
) -> tuple[list[str], str, str]:
    domain = o.recipient.rpartition("@")[2]
    subject = "Delayed Mail (still being retried)" if f.delayed else (
        "Undelivered Mail Returned to Sender"
    )  # fmt: skip
    head = [
        f"From: MAILER-DAEMON@mail.{domain} (Mail Delivery System)",
        f"To: {o.sender}",
        f"Subject: {subject}",
        f"Message-ID: <{secrets.token_hex(6).upper()}.{secrets.token_hex(4)}@mail.{domain}>",
    ]
    said = diagnostic.partition("; ")[2]
    if f.delayed:
        human = (
            f"This is the mail system at host mail.{domain}.\r\n\r\n####################\r\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
            "####################\r\n\r\nYour message could not be delivered for more than 4"
            " hour(s).\r\nIt will be retried until it is 5 day(s) old.\r\n\r\n"
            f"<{o.recipient}>: {said}"
        )
    else:
        human = (
            f"This is the mail system at host mail.{domain}.\r\n\r\nI'm sorry to have to"
            " inform you that your message could not\r\nbe delivered to one or more"
            f" recipients.\r\n\r\n<{o.recipient}>: host mx.{domain}[192.0.2.2] said: {said}"
        )
    fields = _lines(
        f"Reporting-MTA: dns; mail.{domain}",
        f"X-Postfix-Queue-ID: {secrets.token_hex(5).upper()}",
        f"X-Postfix-Sender: rfc822; {o.sender}",
        f"Arrival-Date: {date}",
        "",
        f"Final-Recipient: rfc822; {o.recipient}",
        f"Original-Recipient: rfc822;{o.recipient}",
        f"Action: {action}",
        f"Status: {status}",
        f"Remote-MTA: dns; mx.{domain}",
        f"Diagnostic-Code: {diagnostic}",
        *([f"Will-Retry-Until: {retry}"] if f.delayed else []),
    )
    return head, human, fields

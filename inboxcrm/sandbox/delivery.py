"""Sending and receiving: threading, local delivery between accounts, and bounces.

A well-formed address that is neither a sandbox account nor a known contact does
not exist: the send is accepted (200) and a delivery status notification (RFC 3464)
from mailer-daemon arrives in the sender's inbox, threaded with the original.
"""

import re
import secrets
from email import message_from_bytes, policy
from email.utils import formataddr, formatdate, getaddresses

from inboxcrm.sandbox.errors import bad_request, not_found
from inboxcrm.sandbox.mime import Parsed, parse
from inboxcrm.sandbox.quota import Quota
from inboxcrm.sandbox.state import Account, Mailbox, SentRecord, State, StoredMessage

_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
INCOMING = {"INBOX", "UNREAD", "CATEGORY_PERSONAL"}
MAILER_DAEMON = "mailer-daemon@googlemail.com"
MAX_RECIPIENTS = 100


def new_message_id(domain: str = "mail.gmail.com") -> str:
    return f"<CA{secrets.token_hex(16).upper()}@{domain}>"


def _prepend(raw: bytes, name: str, value: str) -> bytes:
    return f"{name}: {value}\r\n".encode() + raw


_MESSAGE_ID = re.compile(rb"^Message-ID:[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n", re.I | re.M)


def rewrite_message_id(raw: bytes) -> bytes:
    """Gmail may replace the client's Message-ID with one of its own on sending."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    head = _MESSAGE_ID.sub(b"", head + b"\r\n").rstrip(b"\r\n")
    return _prepend(head + sep + body, "Message-ID", new_message_id())


def complete_headers(raw: bytes, parsed: Parsed, account: Account, now: float) -> bytes:
    """Gmail fills in From, Date and Message-ID when the client leaves them out (and may
    rewrite the Message-ID, when the option says so)."""
    if parsed.header("message-id") and account.mailbox.options.rewrite_message_id:
        raw = rewrite_message_id(raw)
    elif not parsed.header("message-id"):
        raw = _prepend(raw, "Message-ID", new_message_id())
    if not parsed.header("date"):
        raw = _prepend(raw, "Date", formatdate(now))
    if not parsed.header("from"):
        raw = _prepend(raw, "From", formataddr((account.name, account.email)))
    return raw


def recipients(parsed: Parsed) -> list[str]:
    values = [parsed.header(h) for h in ("to", "cc", "bcc") if parsed.header(h)]
    found = [addr for _, addr in getaddresses(values)]
    if not found or not any(found):
        raise bad_request("Recipient address required")
    for addr in found:
        if not _ADDRESS.match(addr):
            raise bad_request("Invalid To header")
    if len(found) > MAX_RECIPIENTS:
        raise bad_request("Too many recipients")
    return [a.lower() for a in found]


def _without_bcc(raw: bytes) -> bytes:
    msg = message_from_bytes(raw, policy=policy.compat32)
    if msg["Bcc"] is None:
        return raw
    del msg["Bcc"]
    return msg.as_bytes()


def receive(mailbox: Mailbox, raw: bytes, labels: set[str] | None = None) -> StoredMessage:
    """New mail arriving: threaded by References/In-Reply-To and subject."""
    return mailbox.add(raw, INCOMING if labels is None else labels)


def send(
    state: State, quota: Quota, account: Account, raw: bytes, thread_id: str | None
) -> StoredMessage:
    """messages.send: store in SENT, deliver locally, bounce what cannot be delivered."""
    mailbox = account.mailbox
    parsed = parse(raw)
    to = recipients(parsed)
    with state.lock:
        if thread_id and thread_id not in mailbox.threads:
            raise not_found()
        raw = complete_headers(raw, parsed, account, state.clock.now())
        parsed = parse(raw)
        tid = mailbox.find_thread(parsed, within=thread_id) if thread_id else None
        delivered = quota.record_send(account.email)
        sent = mailbox.add(raw, {"SENT"}, thread_id=tid, parsed=parsed)
        record = SentRecord(
            account.email, sent.id, sent.thread_id, parsed.header("message-id"),
            parsed.header("subject"), to, state.clock.now(),
        )  # fmt: skip
        state.sent.append(record)
        public = _without_bcc(raw)
        for addr in dict.fromkeys(to):
            if not delivered or not state.deliverable(addr):
                record.bounced.append(addr)
            elif addr == account.email:
                mailbox.modify(sent, {"INBOX", "UNREAD"}, set())
            elif addr in state.accounts:
                receive(state.accounts[addr].mailbox, public)
            else:
                state.outside.arrive(account, sent, record, addr)
        if record.bounced:
            reason = "limit" if not delivered else "unknown"
            bounce(mailbox, sent, record.bounced, reason)
    return sent


def bounce(
    mailbox: Mailbox,
    original: StoredMessage,
    failed: list[str],
    reason: str,
    at_ms: int | None = None,
) -> None:
    """Deliver a delivery status notification into the sender's inbox (at `at_ms`, or now)."""
    at_ms = mailbox.clock.now_ms() if at_ms is None else at_ms
    boundary = "000000000000" + secrets.token_hex(8)
    p = original.parsed
    if reason == "limit":
        human = "You have reached a limit for sending mail. Your message was not sent."
        status, diagnostic = "5.4.5", "smtp; 550 5.4.5 Daily user sending limit exceeded."
    else:
        human = (
            f"Your message wasn't delivered to {', '.join(failed)} because the address"
            " couldn't be found, or is unable to receive mail."
        )
        status = "5.1.1"
        diagnostic = "smtp; 550 5.1.1 The email account that you tried to reach does not exist."
    per_recipient = "".join(
        f"\r\nFinal-Recipient: rfc822; {a}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n"
        for a in failed
    )
    original_headers = original.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    headers = (
        f"From: Mail Delivery Subsystem <{MAILER_DAEMON}>\r\n"
        f"To: {mailbox.email}\r\n"
        f"Subject: Delivery Status Notification (Failure)\r\n"
        f"Date: {formatdate(at_ms / 1000)}\r\n"
        f"Message-ID: {new_message_id('mx.google.com')}\r\n"
        f"In-Reply-To: {p.header('message-id')}\r\n"
        f"References: {p.header('message-id')}\r\n"
        f"X-Failed-Recipients: {', '.join(failed)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
    )
    body = (
        f"\r\n--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        f"** Address not found **\r\n\r\n{human}\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; googlemail.com\r\n{per_recipient}"
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    )
    raw = (
        headers.encode() + body.encode() + original_headers + f"\r\n\r\n--{boundary}--\r\n".encode()
    )
    mailbox.add(raw, INCOMING, internal_date=at_ms, thread_id=original.thread_id)


def reply_from(
    state: State, mailbox: Mailbox, original: StoredMessage, sender: str, text: str
) -> StoredMessage:
    """A lead answers one of our messages: a proper reply lands in the mailbox."""
    p = original.parsed
    subject = p.header("subject")
    if not subject.lower().startswith("re:"):
        subject = "Re: " + subject
    refs = (p.header("references") + " " + p.header("message-id")).strip()
    raw = (
        f"From: {sender}\r\nTo: {mailbox.email}\r\nSubject: {subject}\r\n"
        f"Date: {formatdate(state.clock.now())}\r\nMessage-ID: {new_message_id('sandbox.test')}\r\n"
        f"In-Reply-To: {p.header('message-id')}\r\nReferences: {refs}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        f"{text}\r\n"
    ).encode()
    with state.lock:
        return receive(mailbox, raw)

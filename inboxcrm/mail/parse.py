"""Gmail messages (`format=full` JSON, or raw RFC 5322 bytes) to one plain `ParsedMessage`.

Pure and forgiving: no clock, no database, no network, and no exception escapes. Whatever
cannot be read is left out and reported in one warning naming the Gmail id.

Conventions:
- Message-IDs (`rfc_message_id`, `in_reply_to`, `references`) keep their angle brackets,
  `<abc@host>`, the form replies must carry in In-Reply-To/References; case is kept.
- A header that should appear once but appears twice: the first one wins (From, Subject,
  Message-ID, Date, List-* ...); address lists (To, Cc, Bcc, Reply-To) are joined instead,
  so nobody on the message is lost.
- Bodies longer than `MAX_BODY_CHARS` are cut and end with `TRUNCATED_MARKER`.

What kind of message it is (person mail, bulk, an auto-reply, a bounce) is decided from
these fields by `inboxcrm.mail.kind`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email
import email.message
import email.parser
import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from inboxcrm.mail.participants import Address, decode_text, decode_words, parse_addresses
from inboxcrm.mail.pickling import by_fields
from inboxcrm.mail.sanitize import html_to_text

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 1_000_000
# The header every email the outbox sends carries (its per-send token): our own mail,
# whose list headers (RFC 8058 unsubscribe) are ours, not a newsletter's.
SEND_HEADER = "X-InboxCRM-Send"
TRUNCATED_MARKER = "\n[message truncated]"
_MAX_DEPTH = 40  # MIME nesting deeper than any real client makes: a bomb, not mail
_SNIPPET_CHARS = 200
_MAX_CALENDAR = 256_000  # bytes of a text/calendar part kept: a reply is a few hundred


@by_fields
@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    mime_type: str
    size: int
    attachment_id: str | None  # Gmail's id for attachments.get; None when parsed from raw
    content_id: str | None  # without angle brackets: what `cid:` URLs in the HTML name
    inline: bool
    part_id: str = ""


_FAILED_ACTIONS = frozenset({"failed", "failure", "expired"})  # the RFC's word, and others'
_OTHER_ACTIONS = frozenset({"delayed", "delivered", "relayed", "expanded"})


@by_fields
@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One recipient's fields in a message/delivery-status part (RFC 3464)."""

    recipient: str  # the normalized address; "" when there is none to read
    action: str  # lower case: failed, delayed, delivered, relayed, expanded; "" if absent
    status: str  # the enhanced status code, e.g. 5.1.1; "" if absent
    # The Diagnostic-Code as written (`smtp; 550 5.1.1 ... user unknown`); "" if absent.
    diagnostic: str = field(default="", compare=False)

    @property
    def failed(self) -> bool:
        """Not delivered and given up on. `delayed` is still being retried: no failure."""
        if self.action in _FAILED_ACTIONS:
            return True
        if self.action in _OTHER_ACTIONS:
            return False
        return self.status.startswith("5")  # no action, or one of no standard: the code says


@by_fields
@dataclass(frozen=True, slots=True)
class ParsedMessage:
    gmail_id: str = ""
    gmail_thread_id: str = ""
    label_ids: tuple[str, ...] = ()
    snippet: str = ""
    history_id: int | None = None
    sent_at: dt.datetime | None = None  # internalDate, else the Date header; always UTC
    size_estimate: int = 0
    rfc_message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    from_: Address | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    list_unsubscribe: str | None = None
    list_unsubscribe_post: str | None = None
    list_id: str | None = None
    precedence: str | None = None
    auto_submitted: str | None = None
    return_path: str | None = None
    # Vendors' auto-reply headers (RFC 3834 has Auto-Submitted; not everyone sends it).
    x_autoreply: str | None = None
    x_autorespond: str | None = None
    x_apple_action: str | None = None  # iCloud's vacation replies: "vacation"
    exchange_rules_loop: str | None = None  # X-MS-Exchange-Inbox-Rules-Loop: an Outlook rule
    # The token the outbox puts in every email it sends (SEND_HEADER): mail the app sent.
    send_token: str | None = None
    content_type: str = ""  # of the whole message, e.g. multipart/report
    report_type: str | None = None  # its report-type parameter, e.g. delivery-status
    text_body: str = ""
    html_body: str = ""
    attachments: tuple[Attachment, ...] = ()
    # A delivery report: each recipient's status, the addresses that failed (from the
    # status and X-Failed-Recipients) and the Message-ID of the mail it reports on.
    delivery_status: tuple[RecipientStatus, ...] = ()
    failed_recipients: tuple[str, ...] = ()
    original_message_id: str | None = None
    # The text of the first text/calendar part (an invitation or its answer), clipped.
    calendar: str = ""


# --- one MIME tree, whichever way the message came ---------------------------------------


@dataclass(slots=True)
class _Part:
    mime_type: str
    headers: dict[str, list[str]]  # lower-case name -> values in order
    filename: str = ""
    size: int = 0
    attachment_id: str | None = None
    data: bytes | None = None
    part_id: str = ""
    parts: list[_Part] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0].strip() if values else None


def _header_dict(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in pairs:
        headers.setdefault(name.lower(), []).append(value)
    return headers


class _Notes:
    """What was dropped, reported once per message."""

    def __init__(self, gmail_id: str) -> None:
        self.gmail_id = gmail_id
        self.items: list[str] = []

    def add(self, note: str) -> None:
        self.items.append(note)

    def report(self) -> None:
        if self.items:
            logger.warning("message %s: %s", self.gmail_id or "(raw)", "; ".join(self.items))


def b64url_decode(data: str) -> bytes:
    """Gmail's base64url, with or without padding (both occur)."""
    data = data.strip()
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _gmail_part(obj: Any, notes: _Notes, depth: int = 0) -> _Part:
    if not isinstance(obj, Mapping):
        return _Part("text/plain", {})
    pairs = [
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in obj.get("headers") or ()
        if isinstance(h, Mapping)
    ]
    raw_body = obj.get("body")
    body: Mapping[str, Any] = raw_body if isinstance(raw_body, Mapping) else {}
    part = _Part(
        mime_type=str(obj.get("mimeType") or "text/plain").lower(),
        headers=_header_dict(pairs),
        filename=str(obj.get("filename") or ""),
        size=_int(body.get("size")) or 0,
        attachment_id=body.get("attachmentId") or None,
        part_id=str(obj.get("partId") or ""),
    )
    if isinstance(body.get("data"), str):
        try:
            part.data = b64url_decode(body["data"])
        except (binascii.Error, ValueError):
            notes.add(f"part {part.part_id or 'root'}: bad base64 dropped")
    children = obj.get("parts") or ()
    if depth >= _MAX_DEPTH and children:
        notes.add("MIME nesting too deep: inner parts dropped")
        return part
    part.parts = [_gmail_part(child, notes, depth + 1) for child in children]
    return part


# A MIME type at the start of a Content-Type that lost its ";" (`text/plain charset=...`).
_MIME_TYPE = re.compile(r"\s*([\w.+-]+/[\w.+-]+)")
# A delimiter line, `--` and a boundary (RFC 2046: up to 70 characters, no quote).
_DELIMITER = re.compile(rb"^--([^\s\"]{1,70}?)(?:--)?[ \t]*\r?$", re.MULTILINE)


def _mime_type(msg: email.message.Message) -> str:
    """The part's type as the stdlib reads it, or the type that starts a malformed value."""
    mime_type = msg.get_content_type()
    if mime_type.count("/") == 1 and not any(c.isspace() or c in ';"=' for c in mime_type):
        return mime_type
    found = _MIME_TYPE.match(mime_type)
    return found.group(1).lower() if found else "text/plain"


def _split_again(data: bytes) -> email.message.Message | None:
    """The parts of a multipart body the stdlib could not split (its boundary parameter
    missing, or on an unfolded line of its own, or not the one its body uses): split by
    the first delimiter line the body repeats. None when there is none."""
    for line in _DELIMITER.finditer(data):
        boundary = line.group(1)
        if data.count(b"\n--" + boundary) + data.startswith(b"--" + boundary) >= 2:
            head = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
            return email.message_from_bytes(head + data)
    return None


def _raw_part(msg: email.message.Message, notes: _Notes, depth: int = 0, pid: str = "") -> _Part:
    part = _Part(
        mime_type=_mime_type(msg),
        headers=_header_dict([(k, _unescape(str(v))) for k, v in msg.raw_items()]),
        part_id=pid,
    )
    try:
        part.filename = _filename(msg, part.headers)
    except Exception:  # RFC 2231 parameters can be arbitrarily broken
        notes.add(f"part {pid or 'root'}: unreadable filename")
    payload = msg.get_payload()
    if part.mime_type == "message/delivery-status" and isinstance(payload, list):
        # The stdlib splits status blocks into sub-messages; we want the text back.
        part.data = "\n".join(str(block) for block in payload).encode("utf-8", "surrogateescape")
    elif msg.is_multipart():
        if depth >= _MAX_DEPTH:
            notes.add("MIME nesting too deep: inner parts dropped")
            return part
        prefix = f"{pid}." if pid else ""
        part.parts = [
            _raw_part(child, notes, depth + 1, f"{prefix}{i}")
            for i, child in enumerate(msg.get_payload())
            if isinstance(child, email.message.Message)
        ]
    else:
        data = msg.get_payload(decode=True)
        part.data = data if isinstance(data, bytes) else None
        if part.mime_type.startswith("multipart/") and part.data:
            _unsplit(part, notes, depth)
    part.size = len(part.data) if part.data is not None else 0
    return part


def _unsplit(part: _Part, notes: _Notes, depth: int) -> None:
    """A multipart part the stdlib left whole: its parts split by the delimiter lines the
    body has, else its body read as text, so a bounce with broken MIME still says why."""
    assert part.data
    again = _split_again(part.data) if depth < _MAX_DEPTH else None
    if again is not None and again.is_multipart():
        notes.add(f"part {part.part_id or 'root'}: multipart split by its body's delimiters")
        part.parts = _raw_part(again, notes, depth, part.part_id).parts
    else:
        notes.add(f"part {part.part_id or 'root'}: multipart without parts read as text")
        part.parts = [_Part("text/plain", {}, data=part.data, part_id=part.part_id or "1")]


def _filename(msg: email.message.Message, headers: dict[str, list[str]]) -> str:
    """The part's filename. The stdlib reads 8-bit parameter bytes as U+FFFD: read them
    from the headers as `_unescape` decoded them instead."""
    named = {name: headers.get(name, []) for name in ("content-disposition", "content-type")}
    if all(value.isascii() for values in named.values() for value in values):
        return _unescape(msg.get_filename() or "")
    shadow = email.message.Message()
    for name, values in named.items():
        for value in values:
            shadow[name] = value
    return shadow.get_filename() or ""


def _unescape(value: str) -> str:
    # Parsing bytes keeps non-ASCII header bytes as surrogates: undo that, charset-tolerant.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return decode_text(value.encode("utf-8", "surrogateescape"), None)
    return value


# --- from the tree to the message ---------------------------------------------------------

_PARAM = re.compile(r";\s*([\w-]+)\s*=\s*(\"[^\"]*\"|[^;\s]*)")
_MSG_ID = re.compile(r"<([^<>\s]+)>")


def _param(value: str | None, name: str) -> str | None:
    for key, val in _PARAM.findall(value or ""):
        if key.lower() == name:
            return val.strip('"').strip() or None
    return None


def _msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    ids = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not ids and value.strip() and " " not in value.strip():
        ids = [f"<{value.strip().strip('<>')}>"]
    return list(dict.fromkeys(ids))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _addresses(root: _Part, name: str) -> tuple[Address, ...]:
    values = root.headers.get(name)
    return tuple(parse_addresses(", ".join(values))) if values else ()


def _date(value: str | None) -> dt.datetime | None:
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _clip(text: str, what: str, notes: _Notes) -> str:
    text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if len(text) <= MAX_BODY_CHARS:
        return text
    notes.add(f"{what} truncated from {len(text)} characters")
    return text[:MAX_BODY_CHARS] + TRUNCATED_MARKER


class _Walk:
    """Depth-first over the tree: first inline text/plain and text/html are the bodies;
    every other leaf is an attachment; attached messages are not searched for bodies.
    A delivery report's status is read, and the Message-ID of the mail it returns."""

    def __init__(self, notes: _Notes) -> None:
        self.notes = notes
        self.bodies: dict[str, str] = {}  # mime type -> text
        self.attachments: list[Attachment] = []
        self.statuses: list[RecipientStatus] = []
        self.reported_id: str | None = None  # X-Original-Message-ID of the status part
        self.attached_id: str | None = None  # Message-ID of the first attached message
        self.calendar = ""  # the first text/calendar part's text

    def visit(self, part: _Part) -> None:
        if part.mime_type == "message/rfc822":
            inner = part.parts[0] if part.parts else None
            self._attached(inner.header("message-id") if inner else None)
            self.attachments.append(self._attachment(part, _attached_name(part)))
        elif part.parts or part.mime_type.startswith("multipart/"):
            for child in part.parts:
                self.visit(child)
        elif part.mime_type == "message/delivery-status":
            statuses, reported = delivery_status(decode_text(part.data or b"", None))
            self.statuses += statuses
            self.reported_id = self.reported_id or reported
        elif part.mime_type in ("text/plain", "text/html") and not _is_attachment(part):
            self._body(part)
        else:
            if part.mime_type == "text/calendar" and part.data and not self.calendar:
                charset = _param(part.header("content-type"), "charset")
                self.calendar = decode_text(part.data[:_MAX_CALENDAR], charset).replace("\x00", "")
            if part.mime_type == "text/rfc822-headers" and part.data:
                headers = email.parser.BytesHeaderParser().parsebytes(part.data)
                self._attached(_unescape(str(headers.get("message-id") or "")))
            self.attachments.append(self._attachment(part, decode_words(part.filename)))

    def _attached(self, message_id: str | None) -> None:
        if self.attached_id is None:
            self.attached_id = next(iter(_msg_ids(message_id)), None)

    def _body(self, part: _Part) -> None:
        if part.mime_type in self.bodies:
            return  # a later alternative or footer: the first one is the body
        if part.data is None:
            if part.attachment_id:
                self.notes.add(f"{part.mime_type} body in part {part.part_id} not fetched")
            self.bodies[part.mime_type] = ""
            return
        # Decode no more than the limit can use (4 bytes per character at most).
        raw = part.data[: MAX_BODY_CHARS * 4 + 4]
        charset = _param(part.header("content-type"), "charset")
        text = _clip(decode_text(raw, charset), f"{part.mime_type} body", self.notes)
        self.bodies[part.mime_type] = text

    @staticmethod
    def _attachment(part: _Part, filename: str) -> Attachment:
        cid = part.header("content-id")
        disposition = (part.header("content-disposition") or "").lower()
        return Attachment(
            filename=filename,
            mime_type=part.mime_type,
            size=part.size,
            attachment_id=part.attachment_id,
            content_id=(cid.strip().strip("<>") or None) if cid else None,
            inline=disposition.startswith("inline") or (bool(cid) and not disposition),
            part_id=part.part_id,
        )


def _is_attachment(part: _Part) -> bool:
    disposition = (part.header("content-disposition") or "").lower()
    return bool(part.filename) or disposition.startswith("attachment")


def _attached_name(part: _Part) -> str:
    if part.filename:
        return decode_words(part.filename)
    inner = part.parts[0] if part.parts else None
    subject = decode_words(inner.header("subject") or "") if inner else ""
    return f"{subject or 'message'}.eml"


_STATUS_FIELD = re.compile(r"^([\w-]+)\s*:\s*(.*)$")


def _status_blocks(status: str) -> list[dict[str, str]]:
    """The field groups of a message/delivery-status body (lower-case names), folded lines
    unfolded; the first value of a field wins."""
    blocks: list[dict[str, str]] = []
    for block in re.split(r"\r?\n\s*\r?\n", status):
        fields: dict[str, str] = {}
        current: str | None = None  # the field a folded line continues
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):  # `Final-Recipient: rfc822;` with the address below
                if current is not None:
                    fields[current] = f"{fields[current]} {line.strip()}".strip()
                continue
            match = _STATUS_FIELD.match(line.strip())
            current = None
            if match and (name := match.group(1).lower()) not in fields:
                fields[name] = match.group(2).strip()
                current = name
        if fields:
            blocks.append(fields)
    return blocks


def _first_word(value: str | None) -> str:
    words = (value or "").split(None, 1)  # `Status: 5.1.1 (bad destination mailbox address)`
    return words[0].lower() if words else ""


def delivery_status(status: str) -> tuple[list[RecipientStatus], str | None]:
    """Each recipient's status in a message/delivery-status body (RFC 3464), and the
    Message-ID of the mail it reports on when the report names it (Gmail's
    X-Original-Message-ID)."""
    statuses: list[RecipientStatus] = []
    reported: str | None = None
    for fields in _status_blocks(status):
        original = fields.get("x-original-message-id") or fields.get("original-message-id")
        reported = reported or next(iter(_msg_ids(original)), None)
        recipient = fields.get("final-recipient") or fields.get("original-recipient")
        if recipient is None:
            continue  # the per-message fields: Reporting-MTA, Arrival-Date ...
        found = parse_addresses(recipient.split(";", 1)[-1])
        action, code = _first_word(fields.get("action")), _first_word(fields.get("status"))
        diagnostic = " ".join((fields.get("diagnostic-code") or "").split())
        statuses.append(RecipientStatus(found[0].email if found else "", action, code, diagnostic))
    return statuses, reported


def failed_recipients(status: str) -> list[str]:
    """Recipients whose delivery failed, in a message/delivery-status body (RFC 3464)."""
    return _failed(delivery_status(status)[0])


def _failed(statuses: list[RecipientStatus], *more: Address) -> list[str]:
    found = [s.recipient for s in statuses if s.failed and s.recipient] + [a.email for a in more]
    return list(dict.fromkeys(found))


def _content(root: _Part, notes: _Notes) -> dict[str, Any]:
    """Everything that comes from the MIME tree: headers, bodies, attachments, bounces."""
    first = root.header
    from_ = parse_addresses(first("from"))
    if not from_ and first("from"):
        notes.add("unreadable From dropped")
    walk = _Walk(notes)
    walk.visit(root)
    report_type = _param(first("content-type"), "report-type")
    # Exim and Gmail name the failed recipients in a header too.
    failed = _failed(walk.statuses, *_addresses(root, "x-failed-recipients"))
    fields: dict[str, Any] = {
        "rfc_message_id": next(iter(_msg_ids(first("message-id"))), None),
        "in_reply_to": next(iter(_msg_ids(first("in-reply-to"))), None),
        "references": tuple(_msg_ids(" ".join(root.headers.get("references", ())))),
        "subject": decode_words(first("subject") or "").replace("\x00", ""),
        "from_": from_[0] if from_ else None,
        "to": _addresses(root, "to"),
        "cc": _addresses(root, "cc"),
        "bcc": _addresses(root, "bcc"),
        "reply_to": _addresses(root, "reply-to"),
        "list_unsubscribe": first("list-unsubscribe"),
        "list_unsubscribe_post": first("list-unsubscribe-post"),
        "list_id": first("list-id"),
        "precedence": first("precedence"),
        "auto_submitted": first("auto-submitted"),
        "return_path": first("return-path"),
        "x_autoreply": first("x-autoreply"),
        "x_autorespond": first("x-autorespond"),
        "x_apple_action": first("x-apple-action"),
        "exchange_rules_loop": first("x-ms-exchange-inbox-rules-loop"),
        "send_token": first(SEND_HEADER.lower()),
        "content_type": root.mime_type,
        "report_type": report_type.lower() if report_type else None,
        "text_body": walk.bodies.get("text/plain", ""),
        "html_body": walk.bodies.get("text/html", ""),
        "attachments": tuple(walk.attachments),
        "delivery_status": tuple(walk.statuses),
        "failed_recipients": tuple(failed),
        "calendar": walk.calendar,
    }
    if root.mime_type == "multipart/report" or walk.statuses or failed:
        # The report's own word first, then the returned mail's headers; Gmail's and
        # Exchange's reports also answer the mail they report on.
        original = walk.reported_id or walk.attached_id or fields["in_reply_to"]
        fields["original_message_id"] = original
    if (sent_at := _date(first("date"))) is not None:
        fields["sent_at"] = sent_at
    return fields


def _envelope(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Gmail's own fields around the MIME tree."""
    fields: dict[str, Any] = {
        "gmail_thread_id": str(resource.get("threadId") or ""),
        "label_ids": tuple(str(label) for label in resource.get("labelIds") or ()),
        # Gmail sends the snippet HTML-escaped ("I&#39;m"); we store text.
        "snippet": html.unescape(str(resource.get("snippet") or "")),
        "history_id": _int(resource.get("historyId")),
        "size_estimate": _int(resource.get("sizeEstimate")) or 0,
    }
    millis = _int(resource.get("internalDate"))
    if millis is not None:
        fields["sent_at"] = dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    return fields


def parse_message(resource: Mapping[str, Any]) -> ParsedMessage:
    """A `users.messages.get` resource (`format=full`) as a ParsedMessage; never raises."""
    gmail_id = str(resource.get("id") or "") if isinstance(resource, Mapping) else ""
    notes = _Notes(gmail_id)
    fields: dict[str, Any] = {"gmail_id": gmail_id}
    try:
        fields |= _content(_gmail_part(resource.get("payload"), notes), notes)
    except Exception as exc:
        notes.add(f"MIME unreadable ({exc.__class__.__name__}): content dropped")
    try:
        fields |= _envelope(resource)
    except Exception as exc:
        notes.add(f"Gmail fields unreadable ({exc.__class__.__name__})")
    notes.report()
    return ParsedMessage(**fields)


def parse_raw(data: bytes, gmail_id: str = "") -> ParsedMessage:
    """An RFC 5322 message (`format=raw` decoded, or an .eml file); never raises.

    Gmail's own fields are absent: the snippet is made from the body and `sent_at` comes
    from the Date header.
    """
    notes = _Notes(gmail_id)
    fields: dict[str, Any] = {"gmail_id": gmail_id, "size_estimate": len(data)}
    try:
        try:
            msg = email.message_from_bytes(data)
        except RecursionError:  # the stdlib recurses per MIME level: a bomb, not mail
            notes.add("MIME nesting too deep to parse: body and attachments dropped")
            msg = email.parser.BytesHeaderParser().parsebytes(data)  # the headers, still
            msg.set_payload("")  # and no body to split again
        fields |= _content(_raw_part(msg, notes), notes)
        text = fields["text_body"] or html_to_text(fields["html_body"][: _SNIPPET_CHARS * 20])
        fields["snippet"] = " ".join(text[: _SNIPPET_CHARS * 4].split())[:_SNIPPET_CHARS]
    except Exception as exc:
        notes.add(f"MIME unreadable ({exc.__class__.__name__}): content dropped")
    notes.report()
    return ParsedMessage(**fields)

"""Gmail's search language (the `q` parameter), compiled to a predicate on messages.

Supported: from: to: cc: bcc: subject: label: in: is: has:attachment rfc822msgid:
after: before: newer_than: older_than:, quoted phrases, plain words, `-` negation
and OR. Terms are ANDed, as in Gmail.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime

from inboxcrm.sandbox.state import Mailbox, StoredMessage

Predicate = Callable[[StoredMessage], bool]
_TOKEN = re.compile(r'(-?)(?:([a-z_0-9]+):)?("[^"]*"|\([^)]*\)|[^\s()]+)', re.I)
_PERIOD = re.compile(r"^(\d+)([dmyh])$")
_PERIOD_SECONDS = {"h": 3600, "d": 86400, "m": 30 * 86400, "y": 365 * 86400}
_IN = {"inbox": "INBOX", "sent": "SENT", "trash": "TRASH", "spam": "SPAM", "drafts": "DRAFT",
       "starred": "STARRED", "important": "IMPORTANT", "chats": "CHAT"}  # fmt: skip
_IS = {"unread": ("UNREAD", True), "read": ("UNREAD", False), "starred": ("STARRED", True),
       "important": ("IMPORTANT", True)}  # fmt: skip


def compile_query(q: str, mailbox: Mailbox, now: float) -> tuple[Predicate, bool]:
    """Return (predicate, reaches_spam_trash): `in:trash`, `in:anywhere` lift the default."""
    groups: list[list[Predicate]] = []
    reaches = False
    join_next = False
    for neg, op, value in _TOKEN.findall(q):
        if not op and value == "OR" and not neg:
            join_next = bool(groups)
            continue
        op = op.lower()
        value = value.strip('"').strip("()") if value[:1] in '"(' else value
        if op == "in" and value.lower() in ("anywhere", "trash", "spam"):
            reaches = True
        pred = _term(op, value, mailbox, now)
        if neg:
            pred = _negate(pred)
        if join_next:
            groups[-1].append(pred)
        else:
            groups.append([pred])
        join_next = False

    def predicate(msg: StoredMessage) -> bool:
        return all(any(p(msg) for p in group) for group in groups)

    return predicate, reaches


def _negate(pred: Predicate) -> Predicate:
    return lambda m: not pred(m)


def _header_has(names: tuple[str, ...], value: str) -> Predicate:
    needle = value.lower()
    return lambda m: any(needle in m.parsed.header(n).lower() for n in names)


def _has_label(label_id: str, present: bool = True) -> Predicate:
    return lambda m: (label_id in m.label_ids) == present


def _label_id(mailbox: Mailbox, value: str) -> str | None:
    wanted = value.lower().replace("-", " ").replace("/", " ")
    for label in mailbox.labels.values():
        names = {label.id.lower(), label.name.lower().replace("-", " ").replace("/", " ")}
        if wanted in names:
            return label.id
    return None


def _term(op: str, value: str, mailbox: Mailbox, now: float) -> Predicate:
    match op:
        case "from":
            return _header_has(("from",), value)
        case "to":
            return _header_has(("to", "cc", "bcc", "delivered-to"), value)
        case "cc" | "bcc":
            return _header_has((op,), value)
        case "subject":
            return _header_has(("subject",), value)
        case "rfc822msgid":
            wanted = value.strip("<>").lower()
            return lambda m: m.parsed.header("message-id").strip("<>").lower() == wanted
        case "label":
            label_id = _label_id(mailbox, value)
            return _has_label(label_id) if label_id else lambda m: False
        case "in":
            label = _IN.get(value.lower())
            return _has_label(label) if label else lambda m: True
        case "is":
            label, present = _IS.get(value.lower(), ("", True))
            return _has_label(label, present) if label else lambda m: False
        case "has":
            return lambda m: value.lower() == "attachment" and m.parsed.has_attachment
        case "after" | "before" | "newer_than" | "older_than":
            return _time_term(op, value, now)
        case "":
            return _word(value)
        case _:
            return _word(f"{op}:{value}")


def _word(value: str) -> Predicate:
    needle = value.lower()

    def matches(m: StoredMessage) -> bool:
        p = m.parsed
        return needle in p.text or any(needle in p.header(h).lower() for h in ("from", "to", "cc"))

    return matches


def _time_term(op: str, value: str, now: float) -> Predicate:
    if op in ("newer_than", "older_than"):
        period = _PERIOD.match(value.lower())
        if not period:
            return lambda m: False
        edge = (now - int(period[1]) * _PERIOD_SECONDS[period[2]]) * 1000
    else:
        at = _date(value)
        if at is None:
            return lambda m: False
        edge = at * 1000
    if op in ("after", "newer_than"):
        return lambda m: m.internal_date >= edge
    return lambda m: m.internal_date < edge


def _date(value: str) -> float | None:
    """Gmail accepts 2026/11/23, 2026-11-23, 2026/1/5 and epoch seconds."""
    if value.isdigit():
        return float(value)
    parts = re.split(r"[/-]", value)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    try:
        return datetime(int(parts[0]), int(parts[1]), int(parts[2]), tzinfo=UTC).timestamp()
    except ValueError:
        return None

"""Everything the signals read from one parsed message, at once: its kind (decided by
`inboxcrm.mail.kind`), and as fits that kind, the bounce, the auto-reply's return date,
the meeting it accepts, and whether its writer asks to be taken off the list. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inboxcrm.mail.kind import message_kind
from inboxcrm.mail.models import MessageKind
from inboxcrm.mail.parse import ParsedMessage, parse_raw
from inboxcrm.signals.autoreply import AutoReply, read_auto_reply
from inboxcrm.signals.bounces import Bounce, classify_bounce, summary
from inboxcrm.signals.meetings import Meeting, accepted_meeting
from inboxcrm.signals.text import body_text, own_text
from inboxcrm.signals.unsubscribe import asks_to_unsubscribe


@dataclass(frozen=True, slots=True)
class Signals:
    kind: MessageKind
    bounce: Bounce | None = None
    auto_reply: AutoReply | None = None
    meeting: Meeting | None = None
    unsubscribe_request: bool = False

    def as_json(self) -> dict[str, Any]:
        auto = self.auto_reply
        return {
            "kind": self.kind.value,
            "bounce": summary(self.bounce),
            "auto_reply": (
                {"return_date": auto.return_date.isoformat() if auto.return_date else None}
                if auto is not None
                else None
            ),
            "meeting": self.meeting.as_json() if self.meeting else None,
            "unsubscribe_request": self.unsubscribe_request,
        }


def read_signals(
    parsed: ParsedMessage,
    now: dt.datetime,
    kind: MessageKind | None = None,
    own_lists: Iterable[str] = (),
) -> Signals:
    """The signals of one message; `kind` as stored, else decided here. A date without a
    year is placed after the message's own date (`now` when it has none)."""
    kind = kind or message_kind(parsed, own_lists)
    if kind is MessageKind.bounce:
        return Signals(kind, bounce=classify_bounce(parsed))
    text = body_text(parsed.text_body, parsed.html_body)
    has_calendar = any(
        a.mime_type == "text/calendar" or a.filename.lower().endswith(".ics")
        for a in parsed.attachments
    )
    meeting = accepted_meeting(parsed.calendar, parsed.subject, has_calendar)
    if kind is MessageKind.auto_reply:
        sent = (parsed.sent_at or now).date()
        return Signals(kind, auto_reply=read_auto_reply(parsed.subject, own_text(text), sent))
    if kind is MessageKind.person:
        return Signals(kind, meeting=meeting, unsubscribe_request=asks_to_unsubscribe(text))
    return Signals(kind, meeting=meeting)


def classify_raw(raw: bytes, now: dt.datetime) -> dict[str, Any]:
    """What `inboxcrm mail classify` prints for one .eml file's bytes (without "file"):
    its kind and signals, or {"error": ...} for bytes nothing can be read from."""
    try:
        return read_signals(parse_raw(raw), now).as_json()
    except Exception as exc:  # one bad file: its line says so, the run goes on
        return {"error": f"{exc.__class__.__name__}: {exc}"}

"""A meeting accepted: the iCalendar answer (RFC 5546 `METHOD:REPLY`) an attendee's
calendar sends, with `ATTENDEE;PARTSTAT=ACCEPTED`; or, when the calendar part could not
be read, the subject calendars give that answer ("Accepted: Demo @ Tue 12 Jan ...").
Pure and forgiving: a calendar part that is garbage gives no meeting, never an error."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ACCEPTED_SUBJECT = re.compile(
    r"^\s*(accepted|angenommen|zugesagt|akzeptiert|accepté|acceptée|aceptado|aceptada|aceito"
    r"|aceite|aceitou|geaccepteerd|accettato|accettata)\s*:\s*\S",
    re.IGNORECASE,
)
_MAILTO = re.compile(r"mailto:\s*([^\s;:,>\"]+@[^\s;:,>\"]+)", re.IGNORECASE)
_MAX_LINES = 5000


@dataclass(frozen=True, slots=True)
class Meeting:
    attendee: str | None  # the address that accepted, lower case; None if not read
    summary: str
    starts: str | None  # DTSTART as written (20270112T150000Z), None if absent
    uid: str | None
    source: str  # "calendar" (the iCalendar answer) or "subject"

    def as_json(self) -> dict[str, str | None]:
        return {
            "status": "accepted",
            "attendee": self.attendee,
            "summary": self.summary,
            "starts": self.starts,
            "uid": self.uid,
            "source": self.source,
        }


def _lines(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Content lines unfolded (RFC 5545 3.1): (NAME, {PARAM: value}, value)."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text.replace("\r\n", "\n"))
    out: list[tuple[str, dict[str, str], str]] = []
    for line in unfolded.split("\n")[:_MAX_LINES]:
        head, sep, value = line.partition(":")
        if not sep:
            continue
        # Parameter values may be quoted and hold ':' or ';' (a quoted CN).
        parts = re.findall(r'(?:[^;"]|"[^"]*")+', head)
        if not parts:
            continue
        params: dict[str, str] = {}
        for part in parts[1:]:
            key, _, val = part.partition("=")
            params[key.strip().upper()] = val.strip().strip('"')
        out.append((parts[0].strip().upper(), params, value.strip()))
    return out


def _unescape(value: str) -> str:
    return value.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";")


def accepted_meeting(
    calendar: str, subject: str = "", has_calendar: bool = False
) -> Meeting | None:
    """The meeting this answer accepts, if it is an acceptance. The subject alone counts
    for a message with a calendar part (`has_calendar`, unread) or a calendar's subject
    ("Accepted: Demo @ Tue 1 Dec 2026 3pm"), not for "Accepted: your offer"."""
    if calendar.strip():
        try:
            found = _from_calendar(calendar)
        except Exception:  # a calendar part of any shape: no meeting, never an error
            found = None
        if found is not None:
            return found
    calendar_like = has_calendar or bool(calendar.strip()) or " @ " in subject
    if calendar_like and _ACCEPTED_SUBJECT.match(subject or ""):
        summary = subject.split(":", 1)[1].strip()
        return Meeting(None, summary[:300], None, None, "subject")
    return None


def _from_calendar(calendar: str) -> Meeting | None:
    lines = _lines(calendar)
    method = next((v.upper() for n, _, v in lines if n == "METHOD"), "")
    if method and method != "REPLY":
        return None  # an invitation (REQUEST), a cancellation ...
    in_event = False
    summary, starts, uid, attendee, accepted = "", None, None, None, False
    for name, params, value in lines:
        if name == "BEGIN" and value.upper() == "VEVENT":
            in_event = True
        elif name == "END" and value.upper() == "VEVENT":
            in_event = False
        elif in_event and name == "SUMMARY":
            summary = _unescape(value)[:300]
        elif in_event and name == "DTSTART":
            starts = value[:40] or None
        elif in_event and name == "UID":
            uid = value[:500] or None
        elif in_event and name == "ATTENDEE" and params.get("PARTSTAT", "").upper() == "ACCEPTED":
            accepted = True
            found = _MAILTO.search(value)
            email = found.group(1) if found else params.get("EMAIL")
            attendee = attendee or (email.strip().lower() if email else None)
    if not (method == "REPLY" and accepted):
        return None
    return Meeting(attendee, summary, starts, uid, "calendar")

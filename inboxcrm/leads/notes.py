"""Notes a rep keeps on a lead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.errors import Forbidden, Invalid, NotFound
from inboxcrm.leads.models import Lead, Note
from inboxcrm.tenancy import Scope

MAX_NOTE = 10_000
SHOWN = 200  # the newest; a lead with more is a rare one


def _text(body: str) -> str:
    text = body.strip()
    if not text:
        raise Invalid("a note needs some text", {"body": "required"})
    if len(text) > MAX_NOTE:
        raise Invalid(
            f"a note is at most {MAX_NOTE:,} characters; this one has {len(text):,}",
            {"body": "too long"},
        )
    return text


def add_note(scope: Scope, lead: Lead, author: Member, body: str, now: dt.datetime) -> Note:
    text = _text(body)
    note = Note(
        workspace_id=scope.workspace_id, lead_id=lead.id, author_id=author.id, body=text,
        created_at=now,
    )  # fmt: skip
    scope.session.add(note)
    lead.needs_review = False  # a rep is working the lead: it is no longer unreviewed
    scope.session.flush()
    return note


def notes_of(scope: Scope, lead: Lead) -> list[Note]:
    return list(
        scope.session.scalars(
            scope.select(Note, Note.lead_id == lead.id)
            .order_by(Note.created_at.desc(), Note.id.desc())
            .limit(SHOWN)
        )
    )


def authors(session: Session, notes: list[Note]) -> dict[int, Member]:
    ids = {n.author_id for n in notes if n.author_id is not None}
    return {m.id: m for m in (session.get(Member, i) for i in ids) if m is not None}


def may_change(actor: Member, note: Note) -> bool:
    """A note is its author's to change or delete; admins may change any."""
    return actor.role is Role.admin or (note.author_id is not None and note.author_id == actor.id)


def note_of(scope: Scope, lead: Lead, note_id: int, actor: Member) -> Note:
    """The lead's note `actor` may change; NotFound or Forbidden otherwise."""
    note = scope.find(Note, note_id)
    if note is None or note.lead_id != lead.id:
        raise NotFound(f"note {note_id} not found")
    if not may_change(actor, note):
        raise Forbidden("only its author or an admin can change or delete a note")
    return note


def change_note(note: Note, body: str, now: dt.datetime) -> Note:
    text = _text(body)
    if text != note.body:
        note.body, note.edited_at = text, now
    return note


def delete_note(scope: Scope, note: Note) -> None:
    scope.session.delete(note)
    scope.session.flush()

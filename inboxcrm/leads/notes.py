"""Notes a rep keeps on a lead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.errors import Invalid
from inboxcrm.leads.models import Lead, Note
from inboxcrm.tenancy import Scope

MAX_NOTE = 10_000
SHOWN = 200  # the newest; a lead with more is a rare one


def add_note(scope: Scope, lead: Lead, author: Member, body: str, now: dt.datetime) -> Note:
    text = body.strip()
    if not text:
        raise Invalid("a note needs some text", {"body": "required"})
    if len(text) > MAX_NOTE:
        raise Invalid(
            f"a note is at most {MAX_NOTE:,} characters; this one has {len(text):,}",
            {"body": "too long"},
        )
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

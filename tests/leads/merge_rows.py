"""Rows around a lead for the merge tests: threads linked to leads, notes, activities and
stage moves, each built in one call."""

from __future__ import annotations

import datetime as dt

from inboxcrm.accounts.models import Mailbox, Member
from inboxcrm.db import utcnow
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LinkSource, Note, ThreadLead
from inboxcrm.leads.moves import move_lead
from inboxcrm.mail.models import Direction, Message, Thread
from inboxcrm.stages.models import ChangeSource, Stage, StageChange
from inboxcrm.tenancy import Scope
from tests.factories import current_session

_gmail_ids = iter(range(1, 1_000_000))


def team_mailbox(member: Member) -> Mailbox:
    """A connected mailbox of an existing member, in that member's workspace."""
    session = current_session()
    box = Mailbox(workspace_id=member.workspace_id, member_id=member.id, email=member.email)
    session.add(box)
    session.commit()
    return box


def thread(
    box: Mailbox,
    *leads: Lead,
    primary: Lead | None = None,
    detached: bool = False,
    source: LinkSource = LinkSource.mail,
    at: dt.datetime | None = None,
    subject: str = "Hello",
) -> Thread:
    """A thread of one inbound message, linked to each lead; primary is the first lead."""
    session = current_session()
    at = at or utcnow()
    number = next(_gmail_ids)
    first = primary or (leads[0] if leads else None)
    row = Thread(
        workspace_id=box.workspace_id,
        mailbox_id=box.id,
        gmail_id=f"t{number:x}",
        subject=subject,
        primary_lead_id=first.id if first else None,
        last_message_at=at,
    )
    session.add(row)
    session.flush()
    session.add(
        Message(
            workspace_id=box.workspace_id,
            mailbox_id=box.id,
            thread_id=row.id,
            gmail_id=f"m{number:x}",
            rfc_message_id=f"<m{number}@mail.example>",
            direction=Direction.inbound,
            from_addr=leads[0].email if leads else "",
            to_addrs=box.email,
            subject=subject,
            sent_at=at,
        )
    )
    for lead in leads:
        link(row, lead, detached=detached, source=source)
    session.commit()
    return row


def link(
    row: Thread, lead: Lead, *, detached: bool = False, source: LinkSource = LinkSource.mail
) -> ThreadLead:
    session = current_session()
    found = ThreadLead(
        workspace_id=row.workspace_id,
        thread_id=row.id,
        lead_id=lead.id,
        detached=detached,
        source=source,
    )
    session.add(found)
    session.commit()
    return found


def note(
    lead: Lead, body: str, author: Member | None = None, at: dt.datetime | None = None
) -> Note:
    session = current_session()
    row = Note(
        workspace_id=lead.workspace_id,
        lead_id=lead.id,
        author_id=author.id if author else lead.owner_id,
        body=body,
        created_at=at or utcnow(),
    )
    session.add(row)
    session.commit()
    return row


def activity(
    lead: Lead, kind: ActivityKind = ActivityKind.message_in, at: dt.datetime | None = None
) -> Activity:
    session = current_session()
    row = Activity(
        workspace_id=lead.workspace_id, lead_id=lead.id, kind=kind, occurred_at=at or utcnow()
    )
    session.add(row)
    session.commit()
    return row


def move(lead: Lead, stage_name: str, by: Member, at: dt.datetime | None = None) -> StageChange:
    """Move a lead to the named stage the way a rep does, recording the stage change."""
    session = current_session()
    scope = Scope(session, lead.workspace_id)
    stage = session.scalars(scope.select(Stage, Stage.name == stage_name)).one()
    change = move_lead(
        scope, lead, stage, source=ChangeSource.member, now=at or utcnow(), member_id=by.id
    )
    assert change is not None, f"{lead.email} is already in {stage_name}"
    session.commit()
    return change

"""A one-off email from the lead page: a rep writes to a lead, or replies in the lead's
thread, from the rep's own Gmail, through the outbox like every other email. The form
carries a key, so a double submit is one Send."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from inboxcrm.accounts.models import Mailbox, MailboxStatus, Member
from inboxcrm.accounts.permissions import Action, require
from inboxcrm.errors import Invalid, NotFound
from inboxcrm.leads.models import Lead
from inboxcrm.mail.models import Message, Thread
from inboxcrm.outbox.models import Send, SourceKind
from inboxcrm.outbox.service import plan_send
from inboxcrm.tenancy import Scope

MAX_SUBJECT = 300
MAX_TEXT = 100_000
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def own_mailbox(scope: Scope, member: Member) -> Mailbox:
    found = scope.session.scalar(
        select(Mailbox)
        .where(
            Mailbox.workspace_id == scope.workspace_id,
            Mailbox.member_id == member.id,
            Mailbox.status == MailboxStatus.connected,
        )
        .order_by(Mailbox.id)
    )
    if found is None:
        raise Invalid("connect your Gmail first: one-off emails go from your own mailbox")
    return found


def own_thread(scope: Scope, mailbox: Mailbox, thread_id: int) -> Thread | None:
    """The thread of that id in this mailbox: a one-off reply goes only in one's own copy."""
    return scope.session.scalar(
        select(Thread).where(
            Thread.id == thread_id,
            Thread.workspace_id == scope.workspace_id,
            Thread.mailbox_id == mailbox.id,
        )
    )


def reply_subject(subject: str) -> str:
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"


def email_lead(
    scope: Scope,
    member: Member,
    lead: Lead,
    *,
    key: str,
    subject: str,
    text: str,
    now: dt.datetime,
    thread_id: int | None = None,
) -> Send:
    """Queue an email to `lead` from `member`'s Gmail, now; a reply when `thread_id` names
    one of the lead's threads in that mailbox (same Gmail thread, subject and references)."""
    require(member, Action.edit, lead.owner_id, lead.email)
    if not _KEY.match(key or ""):
        raise Invalid("the form's key is missing; reload the page", {"key": "missing"})
    subject, text = (subject or "").strip(), text or ""
    errors = {}
    if any(c in subject for c in "\r\n\x00"):
        errors["subject"] = "one line"
    if len(subject) > MAX_SUBJECT:
        errors["subject"] = f"at most {MAX_SUBJECT} characters"
    if not text.strip():
        errors["text"] = "write something"
    if len(text) > MAX_TEXT:
        errors["text"] = f"at most {MAX_TEXT:,} characters"
    mailbox = own_mailbox(scope, member)
    thread = None
    if thread_id is not None:
        thread = own_thread(scope, mailbox, thread_id)
        if thread is None:
            raise NotFound("no such thread in your Gmail")
        subject = reply_subject(subject or thread.subject)
    elif not subject:
        errors["subject"] = "a subject, please"
    if errors:
        raise Invalid("the email cannot be sent: " + ", ".join(errors.values()), errors)
    threading = None
    if thread is not None:
        last = scope.session.scalars(
            select(Message)
            .where(Message.thread_id == thread.id, Message.rfc_message_id.is_not(None))
            .order_by(Message.sent_at.desc(), Message.id.desc())
        ).first()
        parent = last.rfc_message_id if last is not None else None
        references = " ".join([*(last.references if last else []), parent or ""]).strip()
        threading = (thread.gmail_id, parent, references or None)
    return plan_send(
        scope.session,
        source_kind=SourceKind.oneoff,
        source_id=key,
        lead=lead,
        mailbox=mailbox,
        subject=subject,
        text=text,
        due_at=now,
        member_id=member.id,
        thread=threading,
    )

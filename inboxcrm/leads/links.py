"""A rep's hand on a lead's threads: attach one, detach one, make the lead its primary.

Every change names the threads it applies to (the copies of one conversation) and is
all-or-nothing: one thread the rep may not see, or that belongs to another workspace, and
nothing changes (a 404, as for a missing thread).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from sqlalchemy import or_, select

from inboxcrm.errors import Invalid, NotFound
from inboxcrm.leads.models import Lead, LinkSource, ThreadLead
from inboxcrm.mail.models import Message, Thread
from inboxcrm.mail.privacy import MailAccess, visible_thread
from inboxcrm.tenancy import Scope

CANDIDATES = 30
_GMAIL_ID = re.compile(r"^[A-Za-z0-9_-]{6,32}$")


def _threads(scope: Scope, access: MailAccess, thread_ids: Sequence[int]) -> list[Thread]:
    ids = list(dict.fromkeys(thread_ids))
    if not ids:
        raise Invalid("choose a thread")
    return [visible_thread(scope, access, i) for i in ids]


def _links(scope: Scope, lead: Lead, threads: list[Thread]) -> dict[int, ThreadLead]:
    rows = scope.session.scalars(
        scope.select(
            ThreadLead,
            ThreadLead.lead_id == lead.id,
            ThreadLead.thread_id.in_([t.id for t in threads]),
        )
    )
    return {link.thread_id: link for link in rows}


def attach(scope: Scope, access: MailAccess, lead: Lead, thread_ids: Sequence[int]) -> int:
    """Put threads on the lead's timeline; a detached link is attached again."""
    threads = _threads(scope, access, thread_ids)
    links = _links(scope, lead, threads)
    changed = 0
    for thread in threads:
        link = links.get(thread.id)
        if link is None:
            scope.session.add(
                ThreadLead(
                    workspace_id=scope.workspace_id,
                    thread_id=thread.id,
                    lead_id=lead.id,
                    source=LinkSource.manual,
                )
            )
            changed += 1
        elif link.detached:
            link.detached = False
            link.source = LinkSource.manual
            changed += 1
    lead.needs_review = False
    scope.session.flush()
    return changed


def detach(scope: Scope, access: MailAccess, lead: Lead, thread_ids: Sequence[int]) -> int:
    """Take threads off the lead's timeline. The link stays, marked detached, so the next
    sync does not attach them again; the lead stops being their primary."""
    threads = _threads(scope, access, thread_ids)
    links = _links(scope, lead, threads)
    changed = 0
    for thread in threads:
        link = links.get(thread.id)
        if link is None:
            link = ThreadLead(
                workspace_id=scope.workspace_id,
                thread_id=thread.id,
                lead_id=lead.id,
                source=LinkSource.manual,
            )
            scope.session.add(link)
        changed += not link.detached
        link.detached = True
        if thread.primary_lead_id == lead.id:
            thread.primary_lead_id = None
            thread.primary_by_rep = False
    lead.needs_review = False
    scope.session.flush()
    return changed


def make_primary(scope: Scope, access: MailAccess, lead: Lead, thread_ids: Sequence[int]) -> None:
    """The lead becomes the threads' primary lead (whose stage their labels show), by a
    rep's choice that sync keeps."""
    threads = _threads(scope, access, thread_ids)
    links = _links(scope, lead, threads)
    for thread in threads:
        link = links.get(thread.id)
        if link is None or link.detached:
            raise Invalid("attach the thread to this lead before making it the primary lead")
        thread.primary_lead_id = lead.id
        thread.primary_by_rep = True
    lead.needs_review = False
    scope.session.flush()


def gmail_thread_id(raw: str) -> str:
    """A Gmail thread id from what a rep pastes: the id itself, or a Gmail URL ending in it
    (`https://mail.google.com/mail/u/0/#inbox/18c2f0a1b2c3d4e5`)."""
    text = raw.strip()
    if "/" in text or "#" in text:
        parts = urlsplit(text)
        text = unquote(parts.fragment or parts.path).rstrip("/").rsplit("/", 1)[-1]
        text = text.split("?", 1)[0]
    if not _GMAIL_ID.match(text):
        raise Invalid(
            "paste a Gmail thread id or the address of the thread in Gmail",
            {"gmail": "not a Gmail thread id or URL"},
        )
    return text


def threads_by_gmail_id(scope: Scope, access: MailAccess, raw: str) -> list[int]:
    gmail_id = gmail_thread_id(raw)
    ids = list(
        scope.session.scalars(
            select(Thread.id).where(
                Thread.workspace_id == scope.workspace_id,
                Thread.gmail_id == gmail_id,
                access.threads(),
            )
        )
    )
    if not ids:
        raise NotFound(f"no thread {gmail_id} in a mailbox you can see; has it synced yet?")
    return ids


def _like(address: str) -> str:
    return "%" + address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def candidates(scope: Scope, access: MailAccess, lead: Lead) -> list[Thread]:
    """Threads a rep may attach: the team's mail with one of the lead's addresses that is
    not on the timeline yet, newest first. It searches the address columns, so it is a page
    of its own, not part of the lead page."""
    addresses = [e.email for e in lead.emails] or [lead.email]
    on_timeline = select(ThreadLead.thread_id).where(
        ThreadLead.lead_id == lead.id, ThreadLead.detached.is_(False)
    )
    matching = select(Message.thread_id).where(
        Message.workspace_id == scope.workspace_id,
        or_(
            *(
                column.like(_like(address), escape="\\")
                for address in addresses
                for column in (Message.from_addr, Message.to_addrs, Message.cc_addrs)
            )
        ),
    )
    return list(
        scope.session.scalars(
            scope.select(
                Thread,
                Thread.id.in_(matching),
                Thread.id.not_in(on_timeline),
                access.threads(),
            )
            .order_by(Thread.last_message_at.desc(), Thread.id.desc())
            .limit(CANDIDATES)
        )
    )

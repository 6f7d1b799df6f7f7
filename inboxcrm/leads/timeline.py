"""A lead's timeline: every conversation the team had with them, each email once.

Each mailbox keeps its own copy of a thread, so one conversation can be several Thread rows
and one email several Message rows. Copies are grouped by the RFC Message-IDs they share,
and each email is shown from the best copy the viewer may read: their own, then one shared
in full, then a subject-and-participants one. A message without a Message-ID stands alone.

Pages run over threads, newest first, with a keyset cursor (`older`), so a lead with
thousands of messages costs one page of threads and their messages, never all of them.
A conversation shows on the page of its newest copy; an older copy met again on a later
page is skipped there, because its group has a member the cursor has passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from inboxcrm.db import EPOCH
from inboxcrm.errors import BadRequest
from inboxcrm.leads.models import Activity, ActivityKind, ThreadLead
from inboxcrm.mail.models import Direction, Message, Thread
from inboxcrm.mail.privacy import MailAccess
from inboxcrm.tenancy import Scope

PER_PAGE = 25  # messages a page of the API's list
MAX_PER_PAGE = 100
# Conversations on a page of the lead page's timeline: what a rep reads before scrolling
# on, each with all its messages; older ones a link away.
CONVERSATIONS = 10


@dataclass(frozen=True)
class Cursor:
    """Where the next page of older threads starts: after this thread's sort key."""

    at: dt.datetime
    thread_id: int

    @property
    def token(self) -> str:
        micros = (self.at - EPOCH) // dt.timedelta(microseconds=1)
        return f"{micros}-{self.thread_id}"

    @classmethod
    def parse(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        micros, _, thread_id = raw.partition("-")
        try:
            at = EPOCH + dt.timedelta(microseconds=int(micros))
            return cls(at, int(thread_id))
        except (ValueError, OverflowError):
            raise BadRequest(f"older must be a cursor from a previous page, got {raw!r}") from None

    def passed(self, thread: Thread) -> bool:
        """Whether the thread came on an earlier page (the cursor's own thread included)."""
        assert thread.last_message_at is not None
        return (thread.last_message_at, thread.id) >= (self.at, self.thread_id)


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime_type: str
    size: int
    index: int = 0  # its place in the message's stored list: the download's URL names it


@dataclass(frozen=True)
class Entry:
    """One email on the timeline. Unless `readable`, only its envelope: no snippet, body
    or attachments (the copy came from a mailbox shared as subject and participants)."""

    id: int
    thread_id: int
    mailbox_id: int
    direction: Direction
    from_addr: str
    to_addrs: str
    cc_addrs: str
    subject: str
    sent_at: dt.datetime
    readable: bool
    snippet: str | None
    attachments: tuple[Attachment, ...]
    has_html: bool
    has_text: bool

    @property
    def inbound(self) -> bool:
        return self.direction is Direction.inbound

    @property
    def has_body(self) -> bool:
        return self.readable and (self.has_html or self.has_text)


@dataclass
class Conversation:
    threads: list[Thread]  # the copies, newest first
    messages: list[Entry] = field(default_factory=list)
    gmail_url: str | None = None
    own: Thread | None = None  # the viewer's copy: they alone decide whether it is private
    lead_ids: set[int] = field(default_factory=set)  # the leads (of those asked) it is linked to

    @property
    def newest(self) -> Thread:
        return self.threads[0]

    @property
    def subject(self) -> str:
        return self.newest.subject or next((m.subject for m in self.messages if m.subject), "")

    @property
    def last_message_at(self) -> dt.datetime | None:
        return self.newest.last_message_at

    @property
    def thread_ids(self) -> list[int]:
        return [t.id for t in self.threads]

    @property
    def readable(self) -> bool:
        return any(m.readable for m in self.messages)

    @property
    def snippet(self) -> str | None:
        latest = [m for m in self.messages if m.readable]
        return latest[-1].snippet if latest else None

    def primary_for(self, lead_id: int) -> bool:
        return all(t.primary_lead_id == lead_id for t in self.threads)


@dataclass
class TimelinePage:
    conversations: list[Conversation]
    older: Cursor | None  # None on the last page


LeadIds = Sequence[int] | Select[tuple[int]]  # a lead's id, or a company's leads as a query


def _linked(scope: Scope, access: MailAccess, lead_ids: LeadIds) -> list[ColumnElement[bool]]:
    """Criteria on Thread: linked to one of the leads, not detached, visible to the viewer."""
    links = select(ThreadLead.thread_id).where(
        ThreadLead.workspace_id == scope.workspace_id,
        ThreadLead.lead_id.in_(lead_ids),
        ThreadLead.detached.is_(False),
    )
    return [
        Thread.workspace_id == scope.workspace_id,
        Thread.id.in_(links),
        Thread.last_message_at.is_not(None),
        access.threads(),
    ]


def hidden_conversations(scope: Scope, access: MailAccess, lead_ids: LeadIds) -> int:
    """How many conversations with these leads the viewer cannot see (mailboxes not shared
    with them, or threads made private), not counting those they see through another
    copy: what the page says instead of "No conversations yet"."""
    links = select(ThreadLead.thread_id).where(
        ThreadLead.workspace_id == scope.workspace_id,
        ThreadLead.lead_id.in_(lead_ids),
        ThreadLead.detached.is_(False),
    )
    linked = [
        Thread.workspace_id == scope.workspace_id,
        Thread.id.in_(links),
        Thread.last_message_at.is_not(None),
    ]
    hidden = list(scope.session.scalars(select(Thread.id).where(*linked, ~access.threads())))
    if not hidden:
        return 0
    seen = (
        select(Message.rfc_message_id)
        .join(Thread, Thread.id == Message.thread_id)
        .where(*linked, access.threads(), Message.rfc_message_id.is_not(None))
    )
    pairs = list(
        scope.session.execute(
            select(Message.thread_id, Message.rfc_message_id).where(
                Message.thread_id.in_(hidden), Message.rfc_message_id.is_not(None)
            )
        )
    )
    shown = {
        thread_id
        for (thread_id,) in scope.session.execute(
            select(Message.thread_id).where(
                Message.thread_id.in_(hidden), Message.rfc_message_id.in_(seen)
            )
        )
    }
    unseen = [t for t in hidden if t not in shown]
    threads = [_Id(t) for t in unseen]
    return len(_group(threads, [(t, rfc) for t, rfc in pairs if t in set(unseen)]))


@dataclass(frozen=True)
class _Id:
    id: int


@dataclass(frozen=True)
class ContactTimes:
    first_inbound_at: dt.datetime | None
    first_response_at: dt.datetime | None
    last_contacted_at: dt.datetime | None


def visible_contact_times(scope: Scope, access: MailAccess, lead_id: int) -> ContactTimes:
    """The lead's first message in, the team's first answer after it and the last
    contact, from the mail the viewer may know of: when some of it is hidden, the
    responsiveness figures follow the same rule as the conversations."""
    rows = scope.session.execute(
        select(Activity.kind, Activity.occurred_at)
        .join(Message, Message.id == Activity.message_id)
        .join(Thread, Thread.id == Message.thread_id)
        .where(
            Activity.workspace_id == scope.workspace_id,
            Activity.lead_id == lead_id,
            Activity.kind.in_((ActivityKind.message_in, ActivityKind.message_out)),
            access.threads(),
        )
    ).all()
    ins = [at for kind, at in rows if kind is ActivityKind.message_in]
    first_in = min(ins, default=None)
    answers = [
        at for kind, at in rows if kind is ActivityKind.message_out and first_in and at > first_in
    ]
    return ContactTimes(
        first_in, min(answers, default=None), max((at for _, at in rows), default=None)
    )


def _preference(access: MailAccess, thread: Thread) -> int:
    if access.owns(thread):
        return 0
    return 1 if access.reads(thread) else 2


def _group(threads: Iterable[Thread | _Id], shared: Iterable[tuple[int, str]]) -> list[list[int]]:
    """Thread ids joined into conversations by the Message-IDs they share (union-find)."""
    parent = {t.id: t.id for t in threads}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    first_with: dict[str, int] = {}
    for thread_id, rfc in shared:
        if thread_id not in parent:
            continue
        seen = first_with.setdefault(rfc, thread_id)
        parent[root(thread_id)] = root(seen)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    return list(groups.values())


_OnPage = aliased(Message)  # built once: an alias costs a copy of every column


def _copies(
    scope: Scope, access: MailAccess, lead_ids: LeadIds, page_ids: list[int]
) -> tuple[list[Thread], list[tuple[int, str]]]:
    """Other linked, visible threads sharing a Message-ID with the page's threads, and the
    (thread, Message-ID) pairs that join them."""
    ids_on_page = select(_OnPage.rfc_message_id).where(
        _OnPage.thread_id.in_(page_ids), _OnPage.rfc_message_id.is_not(None)
    )
    pairs = [
        (thread_id, rfc)
        for thread_id, rfc in scope.session.execute(
            select(Message.thread_id, Message.rfc_message_id)
            .join(Thread, Thread.id == Message.thread_id)
            .where(
                Message.workspace_id == scope.workspace_id,
                Message.rfc_message_id.in_(ids_on_page),
                *_linked(scope, access, lead_ids),
            )
        )
    ]
    extra = {thread_id for thread_id, _ in pairs} - set(page_ids)
    copies = (
        list(scope.session.scalars(scope.select(Thread, Thread.id.in_(extra)))) if extra else []
    )
    return copies, pairs


def _entries(
    scope: Scope, access: MailAccess, threads: dict[int, Thread]
) -> dict[int, list[Entry]]:
    """Each email of these threads once, from its best copy, oldest first, per thread."""
    rows = scope.session.execute(
        select(
            Message.id,
            Message.thread_id,
            Message.mailbox_id,
            Message.rfc_message_id,
            Message.direction,
            Message.from_addr,
            Message.to_addrs,
            Message.cc_addrs,
            Message.subject,
            Message.snippet,
            Message.sent_at,
            Message.attachments,
            Message.body_html.is_not(None).label("has_html"),
            Message.body_text.is_not(None).label("has_text"),
        ).where(Message.thread_id.in_(list(threads)))
    )
    best: dict[tuple[str | None, int | None], tuple[tuple[int, int], Any]] = {}
    for row in rows:
        thread = threads[row.thread_id]
        key = (row.rfc_message_id, None) if row.rfc_message_id else (None, row.id)
        rank = (_preference(access, thread), row.id)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, row)
    by_thread: dict[int, list[Entry]] = {}
    for (_preferred, _id), row in best.values():
        readable = access.reads(threads[row.thread_id])
        entry = Entry(
            id=row.id,
            thread_id=row.thread_id,
            mailbox_id=row.mailbox_id,
            direction=row.direction,
            from_addr=row.from_addr,
            to_addrs=row.to_addrs,
            cc_addrs=row.cc_addrs,
            subject=row.subject,
            sent_at=row.sent_at,
            readable=readable,
            snippet=row.snippet if readable else None,
            attachments=tuple(
                Attachment(
                    str(a.get("filename") or "(unnamed)"),
                    str(a.get("mime_type") or "application/octet-stream"),
                    int(a.get("size") or 0),
                    index,
                )
                for index, a in enumerate(row.attachments or [])
                if readable and isinstance(a, dict) and not a.get("inline")
            ),
            has_html=bool(row.has_html),
            has_text=bool(row.has_text),
        )
        by_thread.setdefault(row.thread_id, []).append(entry)
    return by_thread


def timeline(
    scope: Scope,
    access: MailAccess,
    lead_ids: LeadIds,
    older: Cursor | None = None,
    per_page: int = CONVERSATIONS,
) -> TimelinePage:
    """One page of conversations with these leads (one lead's page, or a company's)."""
    if isinstance(lead_ids, Sequence) and not lead_ids:
        return TimelinePage([], None)
    criteria = _linked(scope, access, lead_ids)
    while True:
        query = select(Thread).where(*criteria)
        if older is not None:
            query = query.where(
                or_(
                    Thread.last_message_at < older.at,
                    and_(Thread.last_message_at == older.at, Thread.id < older.thread_id),
                )
            )
        fetched = list(
            scope.session.scalars(
                query.order_by(Thread.last_message_at.desc(), Thread.id.desc()).limit(per_page + 1)
            )
        )
        page, more = fetched[:per_page], len(fetched) > per_page
        conversations = _conversations(scope, access, lead_ids, page, older)
        last = page[-1] if page else None
        next_cursor = (
            Cursor(last.last_message_at, last.id)
            if more and last and last.last_message_at
            else None
        )
        # A page of nothing but copies already shown: go on to the next, not show a blank one.
        if conversations or next_cursor is None:
            return TimelinePage(conversations, next_cursor)
        older = next_cursor


def _conversations(
    scope: Scope,
    access: MailAccess,
    lead_ids: LeadIds,
    page: list[Thread],
    older: Cursor | None,
) -> list[Conversation]:
    if not page:
        return []
    copies, pairs = _copies(scope, access, lead_ids, [t.id for t in page])
    threads = {t.id: t for t in [*page, *copies]}
    order = {t.id: n for n, t in enumerate(page)}
    groups = []
    for ids in _group(threads.values(), pairs):
        members = sorted(
            (threads[i] for i in ids),
            key=lambda t: (t.last_message_at, t.id),
            reverse=True,
        )
        if older is not None and any(older.passed(t) for t in members):
            continue  # shown on an earlier page, with its newest copy
        groups.append(members)
    groups.sort(key=lambda members: min(order.get(t.id, len(order)) for t in members))
    kept = {t.id: t for members in groups for t in members}
    entries = _entries(scope, access, kept)
    links = scope.session.execute(
        select(ThreadLead.thread_id, ThreadLead.lead_id).where(
            ThreadLead.thread_id.in_(list(kept)),
            ThreadLead.lead_id.in_(lead_ids),
            ThreadLead.detached.is_(False),
        )
    )
    linked_to: dict[int, set[int]] = {}
    for thread_id, lead_id in links:
        linked_to.setdefault(thread_id, set()).add(lead_id)
    result = []
    for members in groups:
        own = next((t for t in members if access.owns(t)), None)
        messages = sorted(
            (e for t in members for e in entries.get(t.id, [])), key=lambda e: (e.sent_at, e.id)
        )
        result.append(
            Conversation(
                threads=members,
                messages=messages,
                gmail_url=access.gmail_url(own) if own else None,
                own=own,
                lead_ids=set().union(*(linked_to.get(t.id, set()) for t in members)),
            )
        )
    return result


@dataclass
class MessagePage:
    messages: list[tuple[Message, bool]]  # each with whether the viewer may read it
    page: int
    per_page: int
    more: bool


def lead_messages(
    scope: Scope, access: MailAccess, lead_id: int, page: int = 1, per_page: int = PER_PAGE
) -> MessagePage:
    """A lead's emails, newest first, each once (its best copy), for the API."""
    if page < 1:
        raise BadRequest("page must be 1 or more")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE}")
    threads = select(Thread.id).where(*_linked(scope, access, [lead_id]))
    own, full = sorted(access.own), sorted(access.full)
    preference = case((Message.mailbox_id.in_(own), 0), (Message.mailbox_id.in_(full), 1), else_=2)
    # Rows without a Message-ID each get a partition of their own: (NULL, id).
    alone = case((Message.rfc_message_id.is_(None), Message.id), else_=None)
    ranked = (
        select(
            Message.id,
            Message.sent_at,
            func.row_number()
            .over(
                partition_by=(Message.rfc_message_id, alone),
                order_by=(preference, Message.id),
            )
            .label("n"),
        )
        .where(Message.workspace_id == scope.workspace_id, Message.thread_id.in_(threads))
        .subquery()
    )
    ids = list(
        scope.session.scalars(
            select(ranked.c.id)
            .where(ranked.c.n == 1)
            .order_by(ranked.c.sent_at.desc(), ranked.c.id.desc())
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
    )
    more, ids = len(ids) > per_page, ids[:per_page]
    rows = {m.id: m for m in scope.session.scalars(select(Message).where(Message.id.in_(ids)))}
    thread_rows = {
        t.id: t
        for t in scope.session.scalars(
            select(Thread).where(Thread.id.in_({m.thread_id for m in rows.values()}))
        )
    }
    return MessagePage(
        [(rows[i], access.reads(thread_rows[rows[i].thread_id])) for i in ids], page, per_page, more
    )

"""What a member may see of the team's mail: the one place that decides.

The owner of a mailbox sees everything in it. Everyone else sees what the mailbox's
visibility allows: `full` (everything), `metadata` (subject, participants and times; no
snippet, body or attachments) or `none` (the threads do not exist for them), and never a
thread its owner marked private.

Listing queries filter in SQL with `threads()` and `readable()` (a workspace has a few
mailboxes, so the rule is a short list of mailbox ids and stays index-friendly); a single
row is checked with `sees()` and `reads()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Visibility
from inboxcrm.errors import Forbidden, NotFound
from inboxcrm.mail.models import Thread
from inboxcrm.tenancy import Scope


@dataclass(frozen=True)
class MailAccess:
    """One member's view of the workspace's mailboxes, read once per request."""

    member_id: int
    own: dict[int, str]  # the member's own mailboxes: id -> address (for Gmail links)
    full: frozenset[int]  # other members' mailboxes shared in full
    metadata: frozenset[int]  # other members' mailboxes shared as subject and participants

    @classmethod
    def of(cls, session: Session, member: Member) -> MailAccess:
        rows = session.execute(
            select(Mailbox.id, Mailbox.member_id, Mailbox.email, Mailbox.visibility).where(
                Mailbox.workspace_id == member.workspace_id
            )
        )
        own: dict[int, str] = {}
        full: set[int] = set()
        metadata: set[int] = set()
        for mailbox_id, owner_id, email, visibility in rows:
            if owner_id == member.id:
                own[mailbox_id] = email
            elif visibility is Visibility.full:
                full.add(mailbox_id)
            elif visibility is Visibility.metadata:
                metadata.add(mailbox_id)
        return cls(member.id, own, frozenset(full), frozenset(metadata))

    def _rule(self, shared: frozenset[int]) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = []
        if self.own:
            clauses.append(Thread.mailbox_id.in_(sorted(self.own)))
        if shared:
            clauses.append(
                and_(Thread.mailbox_id.in_(sorted(shared)), Thread.is_private.is_(False))
            )
        return or_(*clauses) if clauses else false()

    def threads(self) -> ColumnElement[bool]:
        """Threads the member may know exist (subject, participants, times)."""
        return self._rule(self.full | self.metadata)

    def readable(self) -> ColumnElement[bool]:
        """Threads whose snippets, bodies and attachments the member may read."""
        return self._rule(self.full)

    def owns(self, thread: Thread) -> bool:
        return thread.mailbox_id in self.own

    def sees(self, thread: Thread) -> bool:
        if self.owns(thread):
            return True
        shared = thread.mailbox_id in self.full or thread.mailbox_id in self.metadata
        return shared and not thread.is_private

    def reads(self, thread: Thread) -> bool:
        return self.owns(thread) or (thread.mailbox_id in self.full and not thread.is_private)

    def gmail_url(self, thread: Thread) -> str | None:
        """ "Open in Gmail", for the member's own copy only: another mailbox's copy would open
        in an account the member is not signed in to."""
        email = self.own.get(thread.mailbox_id)
        return f"https://mail.google.com/mail/u/{email}/#all/{thread.gmail_id}" if email else None


def visible_thread(scope: Scope, access: MailAccess, thread_id: int) -> Thread:
    """A thread of this workspace the member may see; any other id is a 404, so a private
    thread cannot be told apart from a missing one."""
    thread = scope.find(Thread, thread_id)
    if thread is None or not access.sees(thread):
        raise NotFound(f"thread {thread_id} not found")
    return thread


def set_private(access: MailAccess, thread: Thread, private: bool) -> None:
    if not access.owns(thread):
        raise Forbidden("only the owner of the mailbox can make its threads private")
    thread.is_private = private


def set_visibility(member: Member, mailbox: Mailbox, visibility: Visibility) -> None:
    if mailbox.member_id != member.id:
        raise Forbidden("only the mailbox's owner chooses what the team sees of it")
    mailbox.visibility = visibility

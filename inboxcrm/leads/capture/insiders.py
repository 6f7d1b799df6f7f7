"""Who is inside a workspace's team, and so never a lead: its domain and the subdomains,
and its members' and mailboxes' addresses on any domain; and which member each mailbox
belongs to, the owner a new lead met through it gets.

Elsewhere "team" names the workspace itself (and, in tests, one set up with its people);
here the insiders are the people the workspace is made of.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Workspace
from inboxcrm.addresses import domain_key, listed


@dataclass(frozen=True)
class Insiders:
    """The people inside one workspace's team."""

    domains: frozenset[str]
    addresses: frozenset[str]
    owners: dict[int, int]  # mailbox id -> the member it belongs to

    @classmethod
    def load(cls, session: Session, workspace: Workspace) -> Insiders:
        members = session.scalars(select(Member.email).where(Member.workspace_id == workspace.id))
        boxes = session.execute(
            select(Mailbox.id, Mailbox.member_id, Mailbox.email).where(
                Mailbox.workspace_id == workspace.id
            )
        ).all()
        return cls(
            domains=frozenset({domain_key(workspace.domain)} if workspace.domain else ()),
            addresses=frozenset([e.lower() for e in members] + [b.email.lower() for b in boxes]),
            owners={b.id: b.member_id for b in boxes},
        )

    def is_insider(self, email: str) -> bool:
        return listed(email, self.addresses, self.domains)

"""factory_boy factories that build rows through the services, so invariants hold."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import factory
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Role, Visibility, Workspace
from inboxcrm.accounts.service import add_member, create_api_token, create_workspace
from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead, ThreadLead
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import create_lead
from inboxcrm.mail.models import Direction, Message, Thread
from inboxcrm.tenancy import Scope

_session: Session | None = None


def bind(session: Session | None) -> None:
    global _session
    _session = session


def current_session() -> Session:
    assert _session is not None, "use the `session` fixture before a factory"
    return _session


class WorkspaceFactory(factory.Factory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Team {n}")
    domain = None

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Workspace:
        session = current_session()
        workspace = create_workspace(session, kwargs["name"], kwargs.get("domain"))
        session.commit()
        return workspace


class MemberFactory(factory.Factory):
    class Meta:
        model = Member

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"member{n}@team.example")
    name = factory.Sequence(lambda n: f"Member {n}")
    role = Role.rep

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Member:
        session = current_session()
        member = add_member(
            session, kwargs["workspace"], kwargs["email"], kwargs["role"], kwargs["name"]
        )
        session.commit()
        return member


class LeadFactory(factory.Factory):
    class Meta:
        model = Lead

    owner = factory.SubFactory(MemberFactory)
    email = factory.Sequence(lambda n: f"lead{n}@customer{n % 7}.example")
    name = factory.Sequence(lambda n: f"Lead Person {n}")
    company = None
    tags: list[str] = []
    at = None

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Lead:
        session = current_session()
        owner: Member = kwargs.pop("owner")
        at: dt.datetime = kwargs.pop("at") or utcnow()
        fields = {k: v for k, v in kwargs.items() if v not in (None, [])}
        lead = create_lead(Scope(session, owner.workspace_id), LeadCreate(**fields), owner, at)
        session.commit()
        return lead


def api_token(member: Member) -> str:
    session = current_session()
    _row, plain = create_api_token(session, member, "tests")
    session.commit()
    return plain


def mailbox(email: str) -> Mailbox:
    """A connected mailbox owned by a new member of that address (tokens come from a test)."""
    session = current_session()
    member = MemberFactory(email=email)
    box = Mailbox(workspace_id=member.workspace_id, member_id=member.id, email=email)
    session.add(box)
    session.commit()
    return box


# --- mail on a lead's timeline (built directly: capture links synced mail in its own tests)


def mailbox_for(member: Member, email: str | None = None, visibility: str = "full") -> Mailbox:
    """A mailbox of an existing member, shared with the team as `visibility` says."""
    session = current_session()
    box = Mailbox(
        workspace_id=member.workspace_id,
        member_id=member.id,
        email=email or member.email,
        visibility=Visibility(visibility),
    )
    session.add(box)
    session.commit()
    return box


_gmail_ids = itertools.count(0x18C0000000000000)


def thread(box: Mailbox, subject: str = "Hello", *, private: bool = False) -> Thread:
    session = current_session()
    row = Thread(
        workspace_id=box.workspace_id,
        mailbox_id=box.id,
        gmail_id=f"{next(_gmail_ids):x}",
        subject=subject,
        is_private=private,
    )
    session.add(row)
    session.commit()
    return row


def message(
    on: Thread,
    at: dt.datetime,
    *,
    rfc: str | None = None,
    inbound: bool = True,
    from_addr: str = "lead@customer.example",
    to_addrs: str = "rep@team.example",
    text: str | None = "Hi there",
    html: str | None = None,
    snippet: str = "Hi there",
    attachments: list[dict[str, Any]] | None = None,
) -> Message:
    """A message in a thread; the thread's last-message time follows, as sync does."""
    session = current_session()
    row = Message(
        workspace_id=on.workspace_id,
        mailbox_id=on.mailbox_id,
        thread_id=on.id,
        gmail_id=f"{next(_gmail_ids):x}",
        rfc_message_id=rfc,
        direction=Direction.inbound if inbound else Direction.outbound,
        from_addr=from_addr,
        to_addrs=to_addrs,
        subject=on.subject,
        snippet=snippet,
        sent_at=at,
        body_text=text,
        body_html=html,
        attachments=attachments or [],
    )
    session.add(row)
    if on.last_message_at is None or at >= on.last_message_at:
        on.last_message_at = at
        on.snippet = snippet
    session.commit()
    return row


def link(on: Thread, lead: Lead, *, detached: bool = False) -> ThreadLead:
    session = current_session()
    row = ThreadLead(
        workspace_id=on.workspace_id, thread_id=on.id, lead_id=lead.id, detached=detached
    )
    session.add(row)
    session.commit()
    return row

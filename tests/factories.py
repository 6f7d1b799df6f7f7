"""factory_boy factories for every row a test builds: through the services where the app has
one, so invariants hold; directly where the app only makes the row as a side effect of
syncing (threads, messages, links, activities), with what the sync would have set."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import factory
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Role, Visibility, Workspace
from inboxcrm.accounts.service import (
    add_member,
    connect_mailbox,
    create_api_token,
    create_workspace,
)
from inboxcrm.db import utcnow
from inboxcrm.leads.companies import add_domain
from inboxcrm.leads.models import (
    Activity,
    ActivityKind,
    BlockedAddress,
    Company,
    Lead,
    LinkSource,
    Note,
    ThreadLead,
)
from inboxcrm.leads.moves import move_lead
from inboxcrm.leads.notes import add_note
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import create_lead
from inboxcrm.mail.models import Direction, Message, Thread
from inboxcrm.stages.models import ChangeSource, Stage, StageChange
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


class MailboxFactory(factory.Factory):
    """A connected mailbox, shared with the team as `visibility` says. It belongs to
    `member`, or to a new member of its own address (named after it) in `workspace` (a
    new one when not given) with `role`. It holds no tokens unless given `tokens` (a test
    that talks to Gmail brings its own credentials); other fields (`status`,
    `next_poll_at`, ...) are set as given."""

    class Meta:
        model = Mailbox

    member = None
    workspace = None
    email = None
    role = Role.rep
    visibility = Visibility.full
    tokens = None
    scopes: frozenset[str] = frozenset()

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Mailbox:
        session = current_session()
        member: Member | None = kwargs.pop("member")
        workspace: Workspace | None = kwargs.pop("workspace")
        email: str | None = kwargs.pop("email")
        role: Role = kwargs.pop("role")
        if member is None:
            person: dict[str, Any] = {"role": role}
            if workspace is not None:
                person["workspace"] = workspace
            if email is not None:
                person.update(email=email, name=email.split("@")[0].title())
            member = MemberFactory(**person)
        box = connect_mailbox(
            session, member, email or member.email, kwargs.pop("tokens"), kwargs.pop("scopes")
        )
        box.visibility = Visibility(kwargs.pop("visibility"))
        for name, value in kwargs.items():
            setattr(box, name, value)
        session.commit()
        return box


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


class CompanyFactory(factory.Factory):
    """A company of the workspace, with `domains` added as a rep adds them."""

    class Meta:
        model = Company

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Company {n}")
    domains: Sequence[str] = ()

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Company:
        session = current_session()
        workspace: Workspace = kwargs["workspace"]
        company = Company(workspace_id=workspace.id, name=kwargs["name"])
        session.add(company)
        session.flush()
        for domain in kwargs["domains"]:
            add_domain(Scope(session, workspace.id), company, domain, utcnow())
        session.commit()
        return company


class BlockedAddressFactory(factory.Factory):
    """An address or `@domain` on the workspace's blocklist, put there before the mail
    it blocks arrives (blocking through the app also clears existing leads)."""

    class Meta:
        model = BlockedAddress

    workspace = factory.SubFactory(WorkspaceFactory)
    pattern = factory.Sequence(lambda n: f"@blocked{n}.example")

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> BlockedAddress:
        session = current_session()
        row = BlockedAddress(workspace_id=kwargs["workspace"].id, pattern=kwargs["pattern"])
        session.add(row)
        session.commit()
        return row


def api_token(member: Member) -> str:
    session = current_session()
    _row, plain = create_api_token(session, member, "tests")
    session.commit()
    return plain


# --- synced mail, built directly: capture links synced mail in its own tests -------------

_gmail_ids = itertools.count(0x18C0000000000000)


class ThreadFactory(factory.Factory):
    """A mailbox's copy of a conversation, linked to `leads` as capture links them (the
    first is its primary lead)."""

    class Meta:
        model = Thread

    mailbox = factory.SubFactory(MailboxFactory)
    subject = "Hello"
    private = False
    leads: Sequence[Lead] = ()
    detached = False  # the links to `leads`
    source = LinkSource.mail

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Thread:
        session = current_session()
        box: Mailbox = kwargs["mailbox"]
        leads: Sequence[Lead] = kwargs["leads"]
        row = Thread(
            workspace_id=box.workspace_id,
            mailbox_id=box.id,
            gmail_id=f"{next(_gmail_ids):x}",
            subject=kwargs["subject"],
            is_private=kwargs["private"],
            primary_lead_id=leads[0].id if leads else None,
        )
        session.add(row)
        session.commit()
        for lead in leads:
            ThreadLeadFactory(
                thread=row, lead=lead, detached=kwargs["detached"], source=kwargs["source"]
            )
        return row


class MessageFactory(factory.Factory):
    """A message in a thread; the thread's last-message time follows, as sync does."""

    class Meta:
        model = Message

    thread = factory.SubFactory(ThreadFactory)
    at = factory.LazyFunction(utcnow)
    rfc = None
    inbound = True
    from_addr = "lead@customer.example"
    to_addrs = "rep@team.example"
    text = "Hi there"
    html = None
    snippet = "Hi there"
    attachments: list[dict[str, Any]] = []

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Message:
        session = current_session()
        on: Thread = kwargs["thread"]
        at: dt.datetime = kwargs["at"]
        row = Message(
            workspace_id=on.workspace_id,
            mailbox_id=on.mailbox_id,
            thread_id=on.id,
            gmail_id=f"{next(_gmail_ids):x}",
            rfc_message_id=kwargs["rfc"],
            direction=Direction.inbound if kwargs["inbound"] else Direction.outbound,
            from_addr=kwargs["from_addr"],
            to_addrs=kwargs["to_addrs"],
            subject=on.subject,
            snippet=kwargs["snippet"],
            sent_at=at,
            body_text=kwargs["text"],
            body_html=kwargs["html"],
            attachments=list(kwargs["attachments"]),
        )
        session.add(row)
        if on.last_message_at is None or at >= on.last_message_at:
            on.last_message_at = at
            on.snippet = kwargs["snippet"]
        session.commit()
        return row


class ThreadLeadFactory(factory.Factory):
    """A thread on a lead's timeline: found by sync (`source=mail`) unless said otherwise;
    a detached link is one a rep took off."""

    class Meta:
        model = ThreadLead

    thread = factory.SubFactory(ThreadFactory)
    lead = factory.SubFactory(LeadFactory)
    detached = False
    source = LinkSource.mail

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> ThreadLead:
        session = current_session()
        on: Thread = kwargs["thread"]
        row = ThreadLead(
            workspace_id=on.workspace_id,
            thread_id=on.id,
            lead_id=kwargs["lead"].id,
            detached=kwargs["detached"],
            source=kwargs["source"],
        )
        session.add(row)
        session.commit()
        return row


# --- what happens around a lead -----------------------------------------------------------


class NoteFactory(factory.Factory):
    """A note on a lead, kept by `author` (the lead's owner unless given)."""

    class Meta:
        model = Note

    lead = factory.SubFactory(LeadFactory)
    body = factory.Sequence(lambda n: f"Note {n}")
    author = None
    at = None

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Note:
        session = current_session()
        lead: Lead = kwargs["lead"]
        author = kwargs["author"] or lead.owner
        assert author is not None, "a note needs an author: the lead has no owner"
        scope = Scope(session, lead.workspace_id)
        note = add_note(scope, lead, author, kwargs["body"], kwargs["at"] or utcnow())
        session.commit()
        return note


class ActivityFactory(factory.Factory):
    """An engagement event on a lead (sync records them as it captures mail)."""

    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = ActivityKind.message_in
    at = None
    detail = None  # what a signal saw: a reply's latency_seconds, a bounce's type ...

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Activity:
        session = current_session()
        lead: Lead = kwargs["lead"]
        row = Activity(
            workspace_id=lead.workspace_id,
            lead_id=lead.id,
            kind=kwargs["kind"],
            occurred_at=kwargs["at"] or utcnow(),
            detail=kwargs["detail"] or {},
        )
        session.add(row)
        session.commit()
        return row


class StageChangeFactory(factory.Factory):
    """A lead moved to `stage` (a Stage, or its name in the lead's workspace), recorded as
    the app records moves: by the member `by` on the board, or else by a Gmail label (its
    detail the mailbox that carried it) unless `source` says otherwise."""

    class Meta:
        model = StageChange

    lead = factory.SubFactory(LeadFactory)
    stage = "MQL"
    by = None
    at = None
    source = None
    detail = None

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> StageChange:
        session = current_session()
        lead: Lead = kwargs["lead"]
        by: Member | None = kwargs["by"]
        scope = Scope(session, lead.workspace_id)
        stage = kwargs["stage"]
        if isinstance(stage, str):
            stage = session.scalars(scope.select(Stage, Stage.name == stage)).one()
        source = kwargs["source"] or (ChangeSource.member if by else ChangeSource.label)
        detail = kwargs["detail"]
        if detail is None:
            detail = "rep@team.example" if source is ChangeSource.label else ""
        change = move_lead(
            scope,
            lead,
            stage,
            source=source,
            now=kwargs["at"] or utcnow(),
            member_id=by.id if by else None,
            detail=detail,
        )
        assert change is not None, f"{lead.email} is already in {stage.name}"
        session.commit()
        return change

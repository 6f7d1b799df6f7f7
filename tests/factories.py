"""factory_boy factories that build rows through the services, so invariants hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Role, Workspace
from inboxcrm.accounts.service import add_member, create_api_token, create_workspace
from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import create_lead
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

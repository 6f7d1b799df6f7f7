from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.tenancy import Scope
from tests.factories import MailboxFactory, MemberFactory


@pytest.fixture
def admin(session: Session) -> Member:
    """An admin with a connected mailbox, to make and run sequences without the sandbox."""
    member = MemberFactory(role=Role.admin, name="Ada Admin")
    MailboxFactory(member=member)
    return member


@pytest.fixture
def scope(session: Session, admin: Member) -> Scope:
    return Scope(session, admin.workspace_id)

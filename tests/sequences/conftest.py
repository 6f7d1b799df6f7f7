from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.tenancy import Scope
from tests.factories import MailboxFactory, MemberFactory
from tests.support.outbox import Outbox, signed_in_outbox
from tests.support.sandbox import Control


@pytest.fixture
def outbox(
    client: FlaskClient, session: Session, db: Database, google_settings: Settings, control: Control
) -> Outbox:
    """Ava's Gmail connected, the sandbox reset, nothing planned."""
    return signed_in_outbox(client, session, db, google_settings, control)


@pytest.fixture
def admin(session: Session) -> Member:
    """An admin with a connected mailbox, to make and run sequences without the sandbox."""
    member = MemberFactory(role=Role.admin, name="Ada Admin")
    MailboxFactory(member=member)
    return member


@pytest.fixture
def scope(session: Session, admin: Member) -> Scope:
    return Scope(session, admin.workspace_id)

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.config import Settings
from inboxcrm.db import Database
from tests.support.outbox import Outbox, signed_in_outbox
from tests.support.sandbox import Control


@pytest.fixture
def outbox(
    client: FlaskClient, session: Session, db: Database, google_settings: Settings, control: Control
) -> Outbox:
    """Ava's Gmail connected, the sandbox reset, nothing planned."""
    return signed_in_outbox(client, session, db, google_settings, control)

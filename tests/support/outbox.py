"""The outbox as tests see it: a rep's connected sandbox mailbox, a lead whose address the
sandbox delivers to, sends planned through the real service, and what the sandbox sent."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.models import Send, SourceKind
from inboxcrm.outbox.service import plan_send
from inboxcrm.outbox.windows import Window
from inboxcrm.runtime import Runtime
from tests import factories
from tests.support.sandbox import AVA, Control
from tests.support.web import google_signin

_n = itertools.count(1)


@dataclass
class Outbox:
    session: Session
    db: Database
    control: Control
    runtime: Runtime
    mailbox: Mailbox

    def lead(self, email: str | None = None, **fields: Any) -> Lead:
        email = email or f"lead{next(_n)}@customer.example"
        self.control("contacts", {"emails": [email]})
        owner = self.mailbox.member
        return factories.LeadFactory(owner=owner, email=email, **fields)  # type: ignore[no-any-return]

    def plan(
        self,
        lead: Lead | None = None,
        *,
        kind: SourceKind = SourceKind.campaign,
        source: str | None = None,
        due_at: dt.datetime | None = None,
        subject: str = "Hello",
        window: Window | None = None,
        **extra: Any,
    ) -> Send:
        send = plan_send(
            self.session,
            source_kind=kind,
            source_id=source or str(next(_n)),
            lead=lead or self.lead(),
            mailbox=self.mailbox,
            subject=subject,
            text="Hi there",
            due_at=due_at or utcnow(),
            window=window,
            **extra,
        )
        self.session.commit()
        return send

    def sent(self) -> list[dict[str, Any]]:
        """What the sandbox's Gmail sent from the mailbox."""
        return list(self.control("sent", method="GET")["sent"])

    def refresh(self, send: Send) -> Send:
        self.session.expire_all()
        return self.session.get_one(Send, send.id)


def signed_in_outbox(
    client: FlaskClient, session: Session, db: Database, settings: Settings, control: Control
) -> Outbox:
    google_signin(client, AVA)
    mailbox = session.scalars(select(Mailbox).where(Mailbox.email == AVA)).one()
    return Outbox(session, db, control, Runtime(db, settings, workers=1), mailbox)

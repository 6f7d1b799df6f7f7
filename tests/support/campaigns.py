"""Campaigns as tests see them: the outbox's connected mailbox (Ava, an admin), the
postal address every campaign needs, a template, a segment over the test's leads, and
dispatch run until nothing is due."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import update

from inboxcrm.accounts.models import Member
from inboxcrm.campaigns import service
from inboxcrm.campaigns.models import Campaign, EmailTemplate
from inboxcrm.campaigns.service import Draft
from inboxcrm.campaigns.templates import create_template
from inboxcrm.db import utcnow
from inboxcrm.outbox.dispatch import Tally, dispatch_due
from inboxcrm.outbox.models import MailboxSending
from inboxcrm.outbox.service import sending_of
from inboxcrm.outbox.settings import save_settings
from inboxcrm.runtime import Runtime
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import create_segment
from inboxcrm.tenancy import Scope
from tests.support.outbox import Outbox
from tests.support.web import csrf_token

SUBJECT = 'Spring offer for {{ lead.first_name | default("you") }}'
BODY = (
    'Hi {{ lead.first_name | default("there") }},\n\n'
    "See [the offer](https://vandelay.example/offer) for {{ company.name | default('your team') }}."
    "\n\n{{ sender.name }}"
)
ADDRESS = "Northwind Inc.\n1 Main St, Springfield"


@dataclass
class Campaigns:
    outbox: Outbox
    admin: Member
    template: EmailTemplate
    segment: Segment

    @property
    def scope(self) -> Scope:
        return Scope(self.outbox.session, self.admin.workspace_id)

    def draft(self, name: str = "Spring", **fields: Any) -> Campaign:
        values: dict[str, Any] = {
            "template_id": self.template.id,
            "segment_id": self.segment.id,
            "mailbox_id": self.outbox.mailbox.id,
            **fields,
        }
        made = service.create_campaign(self.scope, self.admin, Draft(name=name, **values), utcnow())
        self.outbox.session.commit()
        return made

    def launch(self, campaign: Campaign, now: dt.datetime | None = None) -> Campaign:
        launched = service.launch(self.scope, self.admin, campaign, now or utcnow())
        self.outbox.session.commit()
        return launched

    def unpaced(self) -> None:
        """No gaps between the mailbox's sends, so a test sends a campaign in one go."""
        sending_of(self.outbox.session, self.outbox.mailbox)
        self.outbox.session.execute(
            update(MailboxSending).values(gap_min_seconds=0, gap_max_seconds=0, next_slot_at=None)
        )
        self.outbox.session.commit()


def campaigns_for(outbox: Outbox) -> Campaigns:
    session = outbox.session
    admin = outbox.mailbox.member
    scope = Scope(session, admin.workspace_id)
    save_settings(session, admin, ADDRESS, True)
    template = create_template(scope, admin, "Spring offer", SUBJECT, BODY, utcnow())
    segment = create_segment(
        scope, admin, "Customers", {"field": "email", "op": "contains", "value": "customer.example"}
    )
    session.commit()
    return Campaigns(outbox, admin, template, segment)


def allow_campaigns(client: FlaskClient, mailbox_id: int, allow: bool = True) -> None:
    """The mailbox's owner (signed in on `client`) ticks "Allow campaigns from my mailbox"."""
    page = client.get("/mailboxes")
    assert "Allow campaigns from my mailbox" in page.text
    answer = client.post(
        f"/mailboxes/{mailbox_id}/campaigns",
        data={"csrf_token": csrf_token(page.text), **({"allow": "1"} if allow else {})},
    )
    assert answer.status_code == 302, answer.text


def dispatch_all(runtime: Runtime, now: dt.datetime, rounds: int = 50) -> Tally:
    """Dispatch passes at `now` until one sends nothing."""
    total = Tally()
    for _ in range(rounds):
        tally = dispatch_due(runtime, now)
        total.add(tally)
        if not (tally.sent or tally.skipped or tally.replanned):
            break
    return total

"""The outbox's part of every sync batch, after the signals: what the new mail says about
whom we may mail.

- a mail to the `mailto:` unsubscribe address comes back with `unsubscribe TOKEN` as its
  subject: the token's address is unsubscribed (a token of another workspace is ignored);
- a lead's reply asking to be removed (signals' `unsubscribe` activity): its sender is
  unsubscribed;
- a hard bounce (signals' `bounce` activity typed hard), or an address the batch marked
  bouncing (`LeadEmail.bouncing_at`, three soft bounces in a row): a hard-bounce
  suppression.

Set-based (a few queries per batch) and idempotent (a suppression is one per pattern):
a replayed batch adds nothing. Flushes, never commits.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.addresses import normalize_email
from inboxcrm.db import chunks
from inboxcrm.errors import Invalid
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LeadEmail
from inboxcrm.mail.models import Message
from inboxcrm.mail.participants import parse_addresses
from inboxcrm.mail.steps import Batch, SyncSteps
from inboxcrm.outbox.models import SuppressionReason
from inboxcrm.outbox.suppression import Suppress, suppress
from inboxcrm.outbox.unsubscribe import Recipient, mailto_token

log = logging.getLogger(__name__)


def suppress_from_mail(batch: Batch) -> None:
    """The step as `setup.SYNC_STEPS` lists it. Tokens are checked with the running app's
    secret; outside an app (the clock) `with_secret` puts in the step that knows it.
    Without either, the `mailto:` unsubscribes wait: the batch's other sources still count."""
    secret = str(current_app.secret_key) if has_app_context() else ""
    _run(batch, secret)


def with_secret(steps: SyncSteps, secret: str) -> SyncSteps:
    """`steps` with this step checking tokens with `secret` (the clock's settings)."""

    def keyed(batch: Batch) -> None:
        _run(batch, secret)

    keyed.__name__ = suppress_from_mail.__name__
    batch = tuple(keyed if step is suppress_from_mail else step for step in steps.batch)
    return replace(steps, batch=batch)


def _run(batch: Batch, secret: str) -> None:
    if not batch.messages:
        return
    session = batch.session
    workspace_id = batch.mailbox.workspace_id
    message_ids = [m.id for m in batch.messages]
    wanted: list[Suppress] = []
    for added in batch.messages:
        token = mailto_token(added.parsed.subject) if added.parsed is not None else None
        recipient = Recipient.read(secret, token) if token and secret else None
        if recipient is None or recipient.workspace_id != workspace_id:
            continue
        wanted.append(Suppress(recipient.address, SuppressionReason.unsubscribed, "mailto",
                               lead_id=recipient.lead_id, message_id=added.id,
                               send_ref=recipient.send[:64]))  # fmt: skip
    bounced: set[str] = set()
    for chunk in chunks(message_ids):
        rows = session.execute(
            select(Activity.lead_id, Activity.kind, Activity.detail, Activity.message_id,
                   Message.from_addr)
            .join(Message, Message.id == Activity.message_id)
            .where(Activity.workspace_id == workspace_id, Activity.message_id.in_(chunk),
                   Activity.kind.in_((ActivityKind.unsubscribe, ActivityKind.bounce)))
        )  # fmt: skip
        for lead, kind, detail, message, sender in rows.tuples():
            if kind is ActivityKind.unsubscribe:
                found = parse_addresses(sender)
                if found:
                    wanted.append(Suppress(found[0].email, SuppressionReason.unsubscribed,
                                           "reply", lead_id=lead, message_id=message))  # fmt: skip
                continue
            recipient = (detail or {}).get("recipient")
            if not recipient:
                continue
            bounced.add(recipient)
            if detail.get("type") == "hard":
                wanted.append(Suppress(recipient, SuppressionReason.hard_bounce, "bounce",
                                       lead_id=lead, message_id=message))  # fmt: skip
    for addresses in chunks(bounced):  # soft bounces that added up to a bouncing address
        rows = session.execute(
            select(LeadEmail.email, LeadEmail.lead_id).where(
                LeadEmail.workspace_id == workspace_id,
                LeadEmail.email.in_(addresses),
                LeadEmail.bouncing_at.is_not(None),
            )
        )
        wanted += [Suppress(email, SuppressionReason.hard_bounce, "bounce", lead_id=lead)
                   for email, lead in rows.tuples()]  # fmt: skip
    valid = []
    for item in wanted:
        try:
            normalize_email(item.pattern)
        except Invalid:
            log.warning("outbox: not an address to suppress: %r", item.pattern)
            continue
        valid.append(item)
    if valid:
        suppress(session, workspace_id, _known_leads(session, workspace_id, valid), batch.now)


def _known_leads(session: Session, workspace_id: int, items: list[Suppress]) -> list[Suppress]:
    """A token's lead may have been removed since the send: keep the suppression, not the link."""
    leads = {i.lead_id for i in items if i.lead_id is not None}
    known = set(
        session.scalars(
            select(Lead.id).where(Lead.workspace_id == workspace_id, Lead.id.in_(leads))
        )
    )
    return [i if i.lead_id in known else replace(i, lead_id=None) for i in items]

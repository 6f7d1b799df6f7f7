"""The leads' part of every sync batch: capture the people of new mail as leads, and queue
the leads it created for matching to mail stored before they existed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from inboxcrm.leads.capture.batch import capture_messages
from inboxcrm.leads.capture.messages import BATCH_MAIL
from inboxcrm.leads.models import Lead
from inboxcrm.mail.steps import Batch


def capture_mail(batch: Batch) -> None:
    if not batch.messages:
        return
    captured = capture_messages(
        batch.session, batch.mailbox.workspace_id, batch.messages, batch.now
    )
    batch.reads[BATCH_MAIL] = captured.mails
    queue_link_mail(batch.session, captured.created, batch.now)


def queue_link_mail(session: Session, lead_ids: Iterable[int], now: dt.datetime) -> None:
    """Committed with the batch that made the leads, so a crash right after it still
    links their older mail (other threads, other team mailboxes): the clock's link job
    drains the queue."""
    ids = list(lead_ids)
    if ids:
        session.execute(
            update(Lead).where(Lead.id.in_(ids)).values(link_mail_at=now),
            execution_options={"synchronize_session": False},
        )

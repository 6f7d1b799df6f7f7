"""Scoring's part of every sync batch, after detect_signals: the leads whose activities
the batch's messages made are rescored in the batch's transaction, so a reply's points
and reason show as soon as the mail does. A few queries per batch; a replayed batch
writes nothing new (see `rescore`)."""

from __future__ import annotations

from sqlalchemy import select

from inboxcrm.db import chunks
from inboxcrm.leads.models import Activity
from inboxcrm.mail.steps import Batch
from inboxcrm.scoring.actions.act import rescore_and_act


def score_leads(batch: Batch) -> None:
    if not batch.messages:
        return
    session = batch.session
    workspace_id = batch.mailbox.workspace_id
    leads: set[int] = set()
    for chunk in chunks(sorted({m.id for m in batch.messages})):
        leads.update(
            session.scalars(
                select(Activity.lead_id)
                .where(Activity.workspace_id == workspace_id, Activity.message_id.in_(chunk))
                .distinct()
            )
        )
    if leads:
        rescore_and_act(session, workspace_id, leads, batch.now)  # then the score actions

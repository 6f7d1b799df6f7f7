"""The labels' part of every sync pass: the stage labels exist in Gmail before the mail is
read, and stage labels found on synced threads move their primary leads."""

from __future__ import annotations

import datetime as dt

from inboxcrm.accounts.models import Mailbox
from inboxcrm.db import Database
from inboxcrm.gmail.calls import GmailCalls
from inboxcrm.labels.from_gmail import apply_stage_labels, labelled_threads
from inboxcrm.labels.mapping import ensure_labels, labels_due
from inboxcrm.mail.steps import Batch


def ensure_stage_labels(
    database: Database, mailbox: Mailbox, calls: GmailCalls, now: dt.datetime
) -> None:
    """A pass after the stages changed, and every few minutes: make Gmail's labels match.
    Any other pass reads nothing for it."""
    if not labels_due(mailbox, now):
        return
    with database.session() as session:
        ensure_labels(session, session.get_one(Mailbox, mailbox.id), calls, now)


def stages_from_labels(batch: Batch) -> None:
    """Threads whose labels changed (or, after a full listing, every labelled thread) move
    their primary leads to the stages their labels say."""
    news = batch.labels
    if news is None:
        return
    if news.listing:
        threads = labelled_threads(batch.session, batch.mailbox.id)
    else:
        threads = list(news.threads)
    added = {thread: list(labels) for thread, labels in news.added.items()}
    apply_stage_labels(
        batch.session, batch.mailbox, threads, batch.now, added=added, initial=news.initial
    )

"""Gmail into the database: a full sync once, then incremental sync from history.

Work is committed a batch at a time with its cursor (the history id taken before listing
and the listing's page token), so a crash or restart resumes where it stopped. Ids already
stored are never fetched again, and storing is idempotent: nothing is lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState, Workspace
from inboxcrm.db import Database
from inboxcrm.gmail.calls import GmailCalls, GmailUnavailable, GrantRevoked, HistoryExpired
from inboxcrm.labels.from_gmail import apply_stage_labels, labelled_threads
from inboxcrm.labels.mapping import ensure_labels, labels_due
from inboxcrm.leads.capture.backfill import link_existing_mail
from inboxcrm.leads.capture.batch import capture_messages
from inboxcrm.mail.models import Message
from inboxcrm.mail.parse import parse_message
from inboxcrm.mail.store import delete_messages, set_labels, store_messages

log = logging.getLogger(__name__)
CHUNK = 500  # messages fetched (ten 50-call batches) and committed together
THROTTLED_WAIT = dt.timedelta(minutes=2)

# Told after each committed batch: messages stored in this mailbox so far, and Gmail's
# estimate of the total while a full sync lists (None otherwise).
Progress = Callable[[int, int | None], None]


def _quiet(stored: int, estimate: int | None) -> None:
    pass


class OutOfTime(Exception):
    """The pass used its time; the cursor is committed and the next pass goes on from it."""


@dataclass
class HistoryChanges:
    """What a run of history pages says happened, in order, folded per message."""

    added: list[str] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    history_id: int = 0
    # Threads (Gmail ids) with new mail or label changes, and per thread the labels added
    # to its messages in history order: of two stage labels, the later one wins.
    threads: dict[str, None] = field(default_factory=dict)
    labels_added: dict[str, list[str]] = field(default_factory=dict)

    def read(self, page: dict[str, Any]) -> None:
        for record in page.get("history", []):
            for item in record.get("messagesAdded", []):
                self.added.append(item["message"]["id"])
                self.deleted.discard(item["message"]["id"])
                self._touch(item["message"])
            for key in ("labelsAdded", "labelsRemoved"):
                for item in record.get(key, []):
                    self.labels[item["message"]["id"]] = list(item["message"].get("labelIds", []))
                    self._touch(item["message"])
                    if key == "labelsAdded" and item["message"].get("threadId"):
                        order = self.labels_added.setdefault(item["message"]["threadId"], [])
                        order += item.get("labelIds", [])
            for item in record.get("messagesDeleted", []):
                self.deleted.add(item["message"]["id"])
        self.history_id = max(self.history_id, int(page.get("historyId", 0)))

    def _touch(self, message: dict[str, Any]) -> None:
        if message.get("threadId"):
            self.threads[message["threadId"]] = None


def _fetch_and_store(
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    ids: Sequence[str],
    now: dt.datetime,
    created: list[int],
) -> int:
    """Fetch the ids not yet stored, store them and capture their leads in the same
    transaction (no mail is ever committed without its links); returns how many were added.
    The ids of leads created are appended to `created`."""
    stored = set(
        session.scalars(
            select(Message.gmail_id).where(
                Message.mailbox_id == mailbox.id, Message.gmail_id.in_(ids)
            )
        )
    )
    missing = [i for i in dict.fromkeys(ids) if i not in stored]
    if not missing:
        return 0
    fetched = calls.get_messages(missing)
    for gmail_id, reason in fetched.failed.items():
        log.warning("mailbox %s: message %s refused (%s), skipped", mailbox.id, gmail_id, reason)
    return store_fetched(session, mailbox, fetched.messages.values(), now, created)


def store_fetched(
    session: Session,
    mailbox: Mailbox,
    resources: Iterable[dict[str, Any]],
    now: dt.datetime,
    created: list[int],
) -> int:
    """Everything the sync does with fetched messages but fetch them (the local work that
    benchmarks/sync.py measures): parse, store, and capture their leads in the same
    transaction, so no mail is committed without its links. Returns how many were new;
    the ids of leads created are appended to `created`."""
    parsed = [parse_message(resource) for resource in resources]
    result = store_messages(session, mailbox, parsed)
    created += capture_messages(session, mailbox.workspace_id, result.messages, now).created
    added = result.added
    mailbox.synced_messages += added
    mailbox.sync_pass_messages += added
    return added


def _full_sync(
    db: Database,
    mailbox_id: int,
    calls: GmailCalls,
    now: Callable[[], dt.datetime],
    stop: Callable[[], bool],
    progress: Progress,
    created: list[int],
    initial: bool = True,
) -> None:
    with db.session() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        if mailbox.full_sync_history_id is None:
            # Taken before listing: whatever changes while we list is in history after it.
            mailbox.full_sync_history_id = int(calls.profile()["historyId"])
            mailbox.full_sync_page_token = None
        days = session.get_one(Workspace, mailbox.workspace_id).sync_days
        token = mailbox.full_sync_page_token
    query = f"after:{(now() - dt.timedelta(days=days)).strftime('%Y/%m/%d')}"
    while True:
        page = calls.list_message_ids(q=query, page_token=token)
        _mark(db, mailbox_id, sync_estimate=page.result_size_estimate or None)  # for the page
        for start in range(0, len(page.ids), CHUNK):
            with db.session() as session:
                mailbox = session.get_one(Mailbox, mailbox_id)
                batch = page.ids[start : start + CHUNK]
                _fetch_and_store(session, mailbox, calls, batch, now(), created)
            progress(mailbox.synced_messages, mailbox.sync_estimate)
            if stop():  # the page's token is not yet saved: its stored ids are skipped again
                raise OutOfTime
        with db.session() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            if page.next_page_token:
                mailbox.full_sync_page_token = token = page.next_page_token
                continue
            mailbox.sync_estimate = None
            mailbox.history_id = mailbox.full_sync_history_id
            mailbox.full_sync_history_id = mailbox.full_sync_page_token = None
            # Labels already on the mail set their leads' stages, once per lead.
            threads = labelled_threads(session, mailbox_id)
            apply_stage_labels(session, mailbox, threads, now(), initial=initial)
            return


def _incremental_sync(
    db: Database,
    mailbox_id: int,
    calls: GmailCalls,
    now: Callable[[], dt.datetime],
    progress: Progress,
    created: list[int],
) -> None:
    with db.session() as session:
        start = session.get_one(Mailbox, mailbox_id).history_id
    assert start is not None
    changes = HistoryChanges(history_id=start)
    token: str | None = None
    while True:  # a poll with no change is this one call
        page = calls.history(start, page_token=token)
        changes.read(page)
        token = page.get("nextPageToken")
        if not token:
            break
    added = [i for i in dict.fromkeys(changes.added) if i not in changes.deleted]
    for begin in range(0, len(added), CHUNK):
        with db.session() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            batch = added[begin : begin + CHUNK]
            _fetch_and_store(session, mailbox, calls, batch, now(), created)
        progress(mailbox.synced_messages, None)
    with db.session() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        labels = {k: v for k, v in changes.labels.items() if k not in changes.deleted}
        set_labels(session, mailbox, labels)
        delete_messages(session, mailbox, changes.deleted)
        apply_stage_labels(session, mailbox, changes.threads, now(), added=changes.labels_added)
        mailbox.history_id = changes.history_id


def _check_labels(
    db: Database, mailbox_id: int, calls: GmailCalls, now: Callable[[], dt.datetime]
) -> None:
    """The stage labels exist before the mail is read (a pass after the stages changed,
    and every few minutes). Gmail's refusals end the pass as for the sync; anything else
    is logged, and the mail is synced all the same."""
    try:
        with db.session() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            if labels_due(session, mailbox, now()):
                ensure_labels(session, mailbox, calls, now())
    except (GmailUnavailable, GrantRevoked):
        raise
    except Exception:
        log.exception("mailbox %s: checking the stage labels failed", mailbox_id)


def _mark(db: Database, mailbox_id: int, **fields: Any) -> None:
    with db.session() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        for name, value in fields.items():
            setattr(mailbox, name, value)


def _link_created(
    db: Database, mailbox_id: int, created: list[int], now: Callable[[], dt.datetime]
) -> None:
    """Leads this pass created, matched to mail stored before they existed (other threads,
    other team mailboxes). Best effort: the mail and its batch's links are committed."""
    if not created:
        return
    try:
        with db.session() as session:
            workspace_id = session.get_one(Mailbox, mailbox_id).workspace_id
            link_existing_mail(session, workspace_id, created, now())
    except Exception:
        log.exception("mailbox %s: matching new leads to stored mail failed", mailbox_id)


def sync_mailbox(
    db: Database,
    mailbox_id: int,
    calls: GmailCalls,
    now: Callable[[], dt.datetime],
    progress: Progress | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> SyncState:
    """One pass: a full sync if one is needed or under way, then history up to now.

    A full sync asked to `stop` (its time is up, or the process is shutting down) stops
    after a committed batch and returns `syncing`: the next pass resumes from the cursor,
    and other mailboxes get their turn meanwhile."""
    progress = progress or _quiet
    created: list[int] = []
    try:
        return _sync_pass(db, mailbox_id, calls, now, progress, stop, created)
    finally:
        _link_created(db, mailbox_id, created, now)


def _sync_pass(
    db: Database,
    mailbox_id: int,
    calls: GmailCalls,
    now: Callable[[], dt.datetime],
    progress: Progress,
    stop: Callable[[], bool],
    created: list[int],
) -> SyncState:
    _mark(
        db,
        mailbox_id,
        sync_state=SyncState.syncing,
        sync_started_at=now(),
        sync_pass_messages=0,
        sync_estimate=None,
    )
    try:
        try:
            _check_labels(db, mailbox_id, calls, now)
            with db.session() as session:
                needs_full = session.get_one(Mailbox, mailbox_id).history_id is None
            if needs_full:
                _full_sync(db, mailbox_id, calls, now, stop, progress, created)
            _incremental_sync(db, mailbox_id, calls, now, progress, created)
        except HistoryExpired:
            # Gmail forgot our place: list everything again; stored rows are kept and skipped.
            log.info("mailbox %s: history expired, full resync", mailbox_id)
            _mark(db, mailbox_id, history_id=None, full_sync_history_id=None)
            _full_sync(db, mailbox_id, calls, now, stop, progress, created, initial=False)
            _incremental_sync(db, mailbox_id, calls, now, progress, created)
    except OutOfTime:
        return SyncState.syncing
    except GrantRevoked as exc:
        _mark(
            db,
            mailbox_id,
            status=MailboxStatus.needs_reconnect,
            sync_state=SyncState.failed,
            sync_estimate=None,
            last_error=f"Google refused our access: {exc}"[:1000],
        )
        return SyncState.failed
    except GmailUnavailable as exc:
        # Without a "Retry after" from Gmail, the retries' backoff is spent: wait a while.
        retry_at = exc.retry_at or now() + THROTTLED_WAIT
        _mark(
            db,
            mailbox_id,
            sync_state=SyncState.throttled,
            sync_estimate=None,
            throttled_until=retry_at,
            next_poll_at=retry_at,
            last_error=str(exc)[:1000],
        )
        return SyncState.throttled
    except Exception as exc:  # a bug or an answer we do not know: show it, retry next poll
        log.exception("mailbox %s: sync failed", mailbox_id)
        _mark(
            db,
            mailbox_id,
            sync_state=SyncState.failed,
            sync_estimate=None,
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
        )
        return SyncState.failed
    _mark(
        db,
        mailbox_id,
        sync_state=SyncState.idle,
        sync_estimate=None,
        last_synced_at=now(),
        last_error=None,
        throttled_until=None,
    )
    return SyncState.idle

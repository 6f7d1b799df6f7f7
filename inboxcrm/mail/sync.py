"""Gmail into the database: a full sync once, then incremental sync from history.

Work is committed a batch at a time with its cursor (the history id taken before listing
and the listing's page token), so a crash or restart resumes where it stopped. Ids already
stored are never fetched again, and storing is idempotent: nothing is lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, select, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState, Workspace
from inboxcrm.db import Database
from inboxcrm.gmail.calls import GmailCalls, GmailUnavailable, GrantRevoked, HistoryExpired
from inboxcrm.logs import news
from inboxcrm.mail import heap
from inboxcrm.mail.models import Message
from inboxcrm.mail.parse import ParsedMessage
from inboxcrm.mail.pool import POOLED, Parsing, parse_later
from inboxcrm.mail.steps import Batch, LabelNews, SyncSteps
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


@dataclass
class _Fetched:
    """A batch fetched and being parsed (None: nothing new to fetch), with the mailbox
    fields to commit with it (the full sync's cursor)."""

    parsing: Parsing | None
    cursor: dict[str, Any]


@functools.cache
def _marking(columns: frozenset[str]) -> Update:
    """The UPDATE of these mailbox columns, built once: every poll writes the same few, and
    building the statement (and its cache key) each time cost more than running it."""
    table = cast(Table, Mailbox.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("mailbox_id"))
        .values({name: bindparam(f"new_{name}") for name in sorted(columns)})
    )


@dataclass
class _Pass:
    """One pass over a mailbox: what every part of it works with. `mailbox` is the row as
    the pass read it, once; `history_id` is where the pass has got to."""

    db: Database
    mailbox: Mailbox
    calls: GmailCalls
    now: Callable[[], dt.datetime]
    steps: SyncSteps
    progress: Progress
    stop: Callable[[], bool]
    chunk: int
    history_id: int | None = None
    shown_syncing: bool = False
    stored: int = 0  # new messages this pass

    @property
    def mailbox_id(self) -> int:
        return self.mailbox.id

    def mark(self, **fields: Any) -> None:
        """One UPDATE of the mailbox row, read nothing."""
        if not fields:
            return
        with self.db.session() as session:
            values = {f"new_{name}": value for name, value in fields.items()}
            session.execute(_marking(frozenset(fields)), {**values, "mailbox_id": self.mailbox_id})

    def syncing(self) -> None:
        """Show the pass as under way: only a pass with mail to store pays for it."""
        if self.shown_syncing:
            return
        self.shown_syncing = True
        self.mark(
            sync_state=SyncState.syncing,
            sync_started_at=self.now(),
            sync_pass_messages=0,
            sync_estimate=None,
        )

    def prepare(self) -> None:
        """What must be in place before the mail is read (the stage labels exist in Gmail).
        Gmail's refusals end the pass as for the sync; anything else is logged, and the
        mail is synced all the same."""
        for prepare in self.steps.prepare:
            try:
                prepare(self.db, self.mailbox, self.calls, self.now())
            except (GmailUnavailable, GrantRevoked):
                raise
            except Exception:
                name = getattr(prepare, "__name__", "a step")
                log.exception("mailbox %s: %s failed", self.mailbox_id, name)

    def fetch(self, ids: Sequence[str], cursor: dict[str, Any]) -> _Fetched:
        """Fetch the ids not yet stored and start parsing them (`mail/pool.py`)."""
        with self.db.session() as session:
            stored = set(
                session.scalars(
                    select(Message.gmail_id).where(
                        Message.mailbox_id == self.mailbox_id, Message.gmail_id.in_(ids)
                    )
                )
            )
        missing = [i for i in dict.fromkeys(ids) if i not in stored]
        if not missing:
            return _Fetched(None, cursor)
        fetched = self.calls.get_messages(missing, as_text=True)  # decoded in the pool
        for gmail_id, reason in fetched.failed.items():
            log.warning(
                "mailbox %s: message %s refused (%s), skipped", self.mailbox_id, gmail_id, reason
            )
        return _Fetched(parse_later(list(fetched.messages.values())), cursor)

    def store(self, batch: _Fetched) -> None:
        """Store a fetched batch and run the sync steps on it in one transaction (no mail is
        ever committed without them), with the cursor that follows it."""
        if batch.parsing is not None and len(batch.parsing.resources) >= POOLED:
            heap.settle()  # before the first sizeable batch, never for an idle poll
        with self.db.session() as session:
            mailbox = session.get_one(Mailbox, self.mailbox_id)
            if batch.parsing is not None:
                self.stored += store_parsed(
                    session, mailbox, batch.parsing.result(), self.now(), self.steps
                )
            for name, value in batch.cursor.items():
                setattr(mailbox, name, value)
        self.progress(mailbox.synced_messages, mailbox.sync_estimate)

    def fetch_all(
        self, batches: Iterator[tuple[list[str], dict[str, Any]]], stop: Callable[[], bool]
    ) -> None:
        """Fetch and store each batch (its ids, and the cursor committed with it), one
        ahead: batch n+1 is fetched, and parsed in the pool, while batch n is stored. A
        batch fetched is stored even when Gmail refuses the next one; one that fails to
        store ends the pass there (nothing after it is stored). Told to `stop`, it stops after
        a committed batch and fetches no more."""
        ahead: _Fetched | None = None
        while True:
            if ahead is not None and stop():
                self.store(ahead)
                raise OutOfTime
            try:
                following = next(batches, None)
                fetched = None if following is None else self.fetch(*following)
            except BaseException:
                if ahead is not None:
                    self.store(ahead)
                raise
            if fetched is None:
                break
            batch, ahead = ahead, fetched
            if batch is not None:
                self.store(batch)
        if ahead is not None:
            self.store(ahead)
            if stop():
                raise OutOfTime

    def listing(self, query: str, token: str | None) -> Iterator[tuple[list[str], dict[str, Any]]]:
        """The full listing's ids a batch at a time; a page's last batch carries the token
        of the page after it (an empty page, only the token)."""
        while True:
            page = self.calls.list_message_ids(q=query, page_token=token)
            self.mark(sync_estimate=page.result_size_estimate or None)  # shown for the page
            cursor = {"full_sync_page_token": page.next_page_token} if page.next_page_token else {}
            ids = page.ids
            starts = range(0, len(ids), self.chunk)
            for start in starts:
                yield ids[start : start + self.chunk], cursor if start == starts[-1] else {}
            if not ids and cursor:
                yield [], cursor
            if not page.next_page_token:
                return
            token = page.next_page_token

    def full(self, initial: bool = True) -> None:
        with self.db.session() as session:
            mailbox = session.get_one(Mailbox, self.mailbox_id)
            if mailbox.full_sync_history_id is None:
                # Taken before listing: whatever changes while we list is in history after it.
                mailbox.full_sync_history_id = int(self.calls.profile()["historyId"])
                mailbox.full_sync_page_token = None
            days = session.get_one(Workspace, mailbox.workspace_id).sync_days
            token = mailbox.full_sync_page_token
        query = f"after:{(self.now() - dt.timedelta(days=days)).strftime('%Y/%m/%d')}"
        # A pass asked to stop mid-page has not saved the page's token: its stored ids are
        # skipped when the next pass lists the page again.
        self.fetch_all(self.listing(query, token), self.stop)
        with self.db.session() as session:
            mailbox = session.get_one(Mailbox, self.mailbox_id)
            mailbox.sync_estimate = None
            mailbox.history_id = self.history_id = mailbox.full_sync_history_id
            mailbox.full_sync_history_id = mailbox.full_sync_page_token = None
            # Labels already on the mail are news: e.g. they set their leads' stages.
            news = LabelNews(listing=True, initial=initial)
            self.steps.run(Batch(session, mailbox, self.now(), labels=news))

    def incremental(self) -> None:
        """History since where the pass has got to. With no news (the usual poll) this is
        one Gmail call and no database work: the history id is written by `finish`."""
        start = self.history_id
        assert start is not None
        changes = HistoryChanges(history_id=start)
        token: str | None = None
        while True:  # a poll with no change is this one call
            page = self.calls.history(start, page_token=token)
            changes.read(page)
            token = page.get("nextPageToken")
            if not token:
                break
        added = [i for i in dict.fromkeys(changes.added) if i not in changes.deleted]
        if not (added or changes.labels or changes.deleted or changes.threads):
            self.history_id = changes.history_id
            return
        if added:
            self.syncing()
        starts = range(0, len(added), self.chunk)
        batches: Iterator[tuple[list[str], dict[str, Any]]] = (
            (added[start : start + self.chunk], {}) for start in starts
        )
        self.fetch_all(batches, stop=lambda: False)  # history is read to its end
        with self.db.session() as session:
            mailbox = session.get_one(Mailbox, self.mailbox_id)
            labels = {k: v for k, v in changes.labels.items() if k not in changes.deleted}
            set_labels(session, mailbox, labels)
            delete_messages(session, mailbox, changes.deleted)
            if changes.threads:
                news = LabelNews(threads=list(changes.threads), added=changes.labels_added)
                self.steps.run(Batch(session, mailbox, self.now(), labels=news))
            mailbox.history_id = self.history_id = changes.history_id


def store_fetched(
    session: Session,
    mailbox: Mailbox,
    resources: Iterable[dict[str, Any]],
    now: dt.datetime,
    steps: SyncSteps,
) -> int:
    """Everything the sync does with fetched messages but fetch them: parse, store, and run
    the sync steps on the new ones in the same transaction. Returns how many were new."""
    return store_parsed(session, mailbox, parse_later(list(resources)).result(), now, steps)


def store_parsed(
    session: Session,
    mailbox: Mailbox,
    parsed: Sequence[ParsedMessage],
    now: dt.datetime,
    steps: SyncSteps,
) -> int:
    """Store parsed messages and run the sync steps on the new ones (the local work that
    benchmarks/sync.py measures, with the parsing). Returns how many were new."""
    result = store_messages(session, mailbox, parsed)
    if result.messages:
        steps.run(Batch(session, mailbox, now, messages=result.messages))
    added = result.added
    mailbox.synced_messages += added
    mailbox.sync_pass_messages += added
    return added


def sync_mailbox(
    db: Database,
    mailbox: int | Mailbox,
    calls: GmailCalls,
    now: Callable[[], dt.datetime],
    steps: SyncSteps,
    progress: Progress | None = None,
    stop: Callable[[], bool] = lambda: False,
    chunk: int = CHUNK,
    next_poll: Callable[[SyncState, dt.datetime], dt.datetime] | None = None,
) -> SyncState:
    """One pass: a full sync if one is needed or under way, then history up to now.

    `mailbox` is an id, or its row as the caller just read it (saving a read). A full sync
    asked to `stop` (its time is up, or the process is shutting down) stops after a
    committed batch and returns `syncing`: the next pass resumes from the cursor, and
    other mailboxes get their turn meanwhile. Every stored batch goes through `steps` in
    its transaction; `chunk` messages make a batch. `next_poll`, given the pass's outcome
    and start, says when the mailbox is due again, written with the outcome (a throttled
    pass is due when Gmail said). An idle poll reads the row once and writes it once."""
    if isinstance(mailbox, int):
        with db.session() as session:
            mailbox = session.get_one(Mailbox, mailbox)
    run = _Pass(db, mailbox, calls, now, steps, progress or _quiet, stop, chunk)
    run.history_id = mailbox.history_id
    started = now()
    full = mailbox.history_id is None
    state, outcome = _run(run)
    if state is SyncState.idle and (full or run.stored):
        what = "first sync" if full else "sync"
        count = f"{run.stored:,} new message{'' if run.stored == 1 else 's'}"
        news.info("%s: %s finished, %s", mailbox.email, what, count)
    if next_poll is not None and "next_poll_at" not in outcome:
        outcome["next_poll_at"] = next_poll(state, started)
    run.mark(**outcome)
    return state


def _run(run: _Pass) -> tuple[SyncState, dict[str, Any]]:
    """The pass itself; returns its outcome and what the mailbox row is to say of it."""
    quiet = {"sync_estimate": None}
    try:
        try:
            run.prepare()
            if run.history_id is None:
                run.syncing()
                run.full()
            run.incremental()
        except HistoryExpired:
            # Gmail forgot our place: list everything again; stored rows are kept and skipped.
            log.info("mailbox %s: history expired, full resync", run.mailbox_id)
            run.mark(history_id=None, full_sync_history_id=None)
            run.syncing()
            run.full(initial=False)
            run.incremental()
    except OutOfTime:
        return SyncState.syncing, {}
    except GrantRevoked as exc:
        return SyncState.failed, {
            **quiet,
            "status": MailboxStatus.needs_reconnect,
            "sync_state": SyncState.failed,
            "last_error": f"Google refused our access: {exc}"[:1000],
        }
    except GmailUnavailable as exc:
        # Without a "Retry after" from Gmail, the retries' backoff is spent: wait a while.
        retry_at = exc.retry_at or run.now() + THROTTLED_WAIT
        return SyncState.throttled, {
            **quiet,
            "sync_state": SyncState.throttled,
            "throttled_until": retry_at,
            "throttle_kind": exc.kind,
            "next_poll_at": retry_at,
            "last_error": str(exc)[:1000],
        }
    except Exception as exc:  # a bug or an answer we do not know: show it, retry next poll
        log.exception("mailbox %s: sync failed", run.mailbox_id)
        return SyncState.failed, {
            **quiet,
            "sync_state": SyncState.failed,
            "last_error": f"{type(exc).__name__}: {exc}"[:1000],
        }
    return SyncState.idle, {
        **quiet,
        "sync_state": SyncState.idle,
        "history_id": run.history_id,
        "last_synced_at": run.now(),
        "last_error": None,
        "throttled_until": None,
        "throttle_kind": None,
    }

"""The entry point: capture a batch of threads (`capture_threads`), or the messages a sync
batch just stored (`capture_messages`), through every step in order, and say what it did
(`Captured`). Flushes, never commits; a lost race with another sync is retried."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import LeadPolicy, Workspace
from inboxcrm.leads.capture.activities import add_activities, update_contact_times
from inboxcrm.leads.capture.insiders import Insiders
from inboxcrm.leads.capture.links import existing_leads, label_new_primaries, link
from inboxcrm.leads.capture.messages import Mail, read_mail
from inboxcrm.leads.capture.new_leads import create_leads
from inboxcrm.leads.capture.policy import CaptureRules, candidates
from inboxcrm.mail.parse import ParsedMessage
from inboxcrm.mail.store import Added

log = logging.getLogger(__name__)
ATTEMPTS = 3  # a concurrent sync adding the same lead or company: look again and retry


@dataclass
class Captured:
    created: list[int] = field(default_factory=list)  # ids of the leads created
    links: int = 0
    activities: int = 0
    mails: list[Mail] = field(default_factory=list)  # the mail read, for later steps

    def add(self, other: Captured) -> None:
        self.created += other.created
        self.links += other.links
        self.activities += other.activities


def _capture(
    session: Session,
    workspace_id: int,
    thread_ids: Sequence[int],
    new: set[int] | None,
    now: dt.datetime,
    create: bool,
    policy: LeadPolicy | None = None,
    parsed: Mapping[int, ParsedMessage] | None = None,
) -> Captured:
    workspace = session.get_one(Workspace, workspace_id)
    insiders = Insiders.load(session, workspace)
    rules = CaptureRules.load(session, workspace, policy)
    mails = read_mail(session, insiders, thread_ids, new, parsed)
    threads: dict[int, list[Mail]] = {}
    for m in mails:
        threads.setdefault(m.thread_id, []).append(m)
    everyone = {a.email for m in mails for a in m.external}
    lead_of = existing_leads(session, workspace_id, everyone)
    result = Captured(mails=mails)
    if create:
        people = {e: a for e, a in candidates(rules, threads).items() if e not in lead_of}
        created = create_leads(session, workspace_id, insiders.owners, people, mails, now)
        lead_of.update(created)
        result.created = list(created.values())
    result.links, primaries = link(session, workspace_id, threads, lead_of)
    label_new_primaries(session, primaries, now)
    added = add_activities(session, workspace_id, mails, lead_of)
    result.activities = sum(len(events) for events in added.values())
    update_contact_times(session, added, now)
    session.flush()
    return result


def capture_threads(
    session: Session,
    workspace_id: int,
    thread_ids: Iterable[int],
    now: dt.datetime,
    *,
    new: set[int] | None = None,
    create: bool = True,
    policy: LeadPolicy | None = None,
    parsed: Mapping[int, ParsedMessage] | None = None,
) -> Captured:
    """Capture these threads: `new` names the messages just stored (None: all of them
    are, as in a backfill); `create=False` only links existing leads; `policy` overrides
    the workspace's (a stage label on a thread makes its people leads); `parsed` holds the
    new messages as parsed, by id. Flushes, never commits; a savepoint keeps a lost race
    with another sync from undoing the caller's work."""
    ids = list(dict.fromkeys(thread_ids))
    if not ids:
        return Captured()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite runs one writer at a time (a lost race fails the batch, retried at the
        # next poll), and a savepoint opened before any write would commit on release.
        return _capture(session, workspace_id, ids, new, now, create, policy, parsed)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with session.begin_nested():
                return _capture(session, workspace_id, ids, new, now, create, policy, parsed)
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
            log.info("workspace %s: capture raced another sync, retrying", workspace_id)
    raise AssertionError("unreachable")


def capture_messages(
    session: Session, workspace_id: int, messages: Sequence[Added], now: dt.datetime
) -> Captured:
    """Capture the messages a sync batch just stored (flushed, so they have ids)."""
    return capture_threads(
        session,
        workspace_id,
        [m.thread_id for m in messages],
        now,
        new={m.id for m in messages},
        parsed={m.id: m.parsed for m in messages if m.parsed is not None},
    )

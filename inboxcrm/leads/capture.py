"""Leads from synced mail: who on a thread is (or becomes) a lead, the thread's links and
primary lead, and one `message_in`/`message_out` activity per lead per message.

It reads stored `Message` rows, a batch of threads at a time, with every message of those
threads (so a reply synced after the mail it answers still counts), and does a fixed
handful of set-based queries per batch whatever its size. Running it again changes
nothing: links, leads and activities are looked up before they are added. So the same
code serves the sync (the messages a batch just stored), a backfill when the lead policy
changes, and matching a lead added by hand to the mail already stored.

Who becomes a lead (the workspace's `lead_policy`):
- `conversations`: the external recipients of the team's messages; the senders of
  threads the team wrote in; whoever writes to one of the workspace's lead inboxes.
- `all_mail`: every external sender and recipient.
- `match_only`: nobody; mail is linked to the leads that exist.
Never: the team (its domain and subdomains, members' and mailboxes' addresses), the
blocklist, bulk mail (lists, newsletters), bounces, auto-replies, daemons and no-reply
senders. An auto-reply (out of office) from a lead still links its thread, but, like bulk
mail and bounces, it is no activity of the lead's.
Only people on the messages being captured are candidates, so a lead junked without
blocking comes back only when there is new mail with them, not on someone else's reply.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import LeadPolicy, Mailbox, Member, Role, Workspace
from inboxcrm.addresses import company_domain, normalize_email
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.leads.blocklist import Blocklist, covered, domain_key
from inboxcrm.leads.models import (
    Activity,
    ActivityKind,
    Company,
    CompanyDomain,
    Lead,
    LeadEmail,
    LinkSource,
    ThreadLead,
)
from inboxcrm.leads.service import search_text
from inboxcrm.mail.models import Direction, Message, MessageKind, Thread
from inboxcrm.mail.participants import Address, is_automated_sender, parse_addresses
from inboxcrm.mail.store import Added, queue_relabel
from inboxcrm.stages.models import Stage
from inboxcrm.stages.service import entry_stage
from inboxcrm.tenancy import Scope

log = logging.getLogger(__name__)
CHUNK = 500  # ids per IN list: well inside SQLite's and PostgreSQL's parameter limits
# Each mailbox stamps its own copy of a message with its own time (sent vs received), so
# copies of one message are looked for within this much of each other.
COPY_SKEW = dt.timedelta(days=1)
CONTACT_TIMES = ("first_inbound_at", "first_response_at", "last_contacted_at")
ATTEMPTS = 3  # a concurrent sync adding the same lead or company: look again and retry


@dataclass(frozen=True)
class Team:
    """Who is not a lead in one workspace, and how its mail makes leads."""

    workspace_id: int
    policy: LeadPolicy
    domains: frozenset[str]
    addresses: frozenset[str]
    lead_inboxes: frozenset[str]
    owners: dict[int, int]  # mailbox id -> the member it belongs to
    blocklist: Blocklist

    @classmethod
    def load(cls, session: Session, workspace_id: int) -> Team:
        workspace = session.get_one(Workspace, workspace_id)
        members = session.scalars(select(Member.email).where(Member.workspace_id == workspace_id))
        boxes = session.execute(
            select(Mailbox.id, Mailbox.member_id, Mailbox.email).where(
                Mailbox.workspace_id == workspace_id
            )
        ).all()
        return cls(
            workspace_id=workspace_id,
            policy=workspace.lead_policy,
            domains=frozenset({domain_key(workspace.domain)} if workspace.domain else ()),
            addresses=frozenset([e.lower() for e in members] + [b.email.lower() for b in boxes]),
            lead_inboxes=frozenset(a.strip().lower() for a in workspace.lead_inboxes or ()),
            owners={b.id: b.member_id for b in boxes},
            blocklist=Blocklist.load(Scope(session, workspace_id)),
        )

    def is_team(self, email: str) -> bool:
        return email in self.addresses or covered(domain_key(email), self.domains)

    def can_be_lead(self, address: Address) -> bool:
        """Not a daemon or no-reply sender, and not blocked (the team is filtered before)."""
        return not is_automated_sender(address) and not self.blocklist.blocks(address.email)


@dataclass(slots=True)
class _Mail:
    """One stored message as capture sees it."""

    id: int
    thread_id: int
    mailbox_id: int
    sent_at: dt.datetime
    rfc_message_id: str | None
    kind: MessageKind
    sender: Address | None  # None for a message without a readable From
    recipients: list[Address]  # To and Cc, the team included
    external: list[Address]  # sender then recipients, without the team, each once
    from_team: bool
    new: bool

    @property
    def copy_key(self) -> str:
        """One message however many team mailboxes hold a copy of it."""
        return self.rfc_message_id or f"#{self.id}"

    def writes_out(self) -> bool:
        """The team wrote to someone outside it (not an internal note or forward)."""
        return self.from_team and self.kind is MessageKind.person and bool(self.external)


@dataclass
class Captured:
    created: list[int] = field(default_factory=list)  # ids of the leads created
    links: int = 0
    activities: int = 0

    def add(self, other: Captured) -> None:
        self.created += other.created
        self.links += other.links
        self.activities += other.activities


def _table(model: type[Any]) -> Table:
    """The Core table of a model: bulk rows go through Core, without per-row ORM work."""
    return cast(Table, model.__table__)


def _chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _read(
    session: Session, team: Team, thread_ids: Sequence[int], new: set[int] | None
) -> list[_Mail]:
    columns = (
        Message.id, Message.thread_id, Message.mailbox_id, Message.direction, Message.from_addr,
        Message.to_addrs, Message.cc_addrs, Message.kind, Message.sent_at, Message.rfc_message_id,
    )  # fmt: skip
    mails: list[_Mail] = []
    for chunk in _chunks(thread_ids):
        rows = session.execute(select(*columns).where(Message.thread_id.in_(chunk))).all()
        for row in rows:
            found = parse_addresses(row.from_addr)
            sender = found[0] if found else None
            recipients = parse_addresses(row.to_addrs) + parse_addresses(row.cc_addrs)
            external: dict[str, Address] = {}
            for address in [sender, *recipients] if sender else recipients:
                if not team.is_team(address.email) and address.email not in external:
                    external[address.email] = address
            from_team = (
                team.is_team(sender.email) if sender else row.direction is Direction.outbound
            )
            mails.append(
                _Mail(
                    id=row.id,
                    thread_id=row.thread_id,
                    mailbox_id=row.mailbox_id,
                    sent_at=row.sent_at,
                    rfc_message_id=row.rfc_message_id,
                    kind=row.kind,
                    sender=sender,
                    recipients=recipients,
                    external=list(external.values()),
                    from_team=from_team,
                    new=new is None or row.id in new,
                )
            )
    mails.sort(key=lambda m: (m.thread_id, m.sent_at, m.id))
    return mails


def _candidates(team: Team, threads: dict[int, list[_Mail]]) -> dict[str, Address]:
    """The people the policy makes leads of, in the order they appear."""
    wanted: dict[str, Address] = {}

    def want(address: Address) -> None:
        if address.email not in wanted and team.can_be_lead(address):
            wanted[address.email] = address

    if team.policy is LeadPolicy.match_only:
        return wanted
    for mails in threads.values():
        written_in = any(m.writes_out() for m in mails)
        writes_now = any(m.new and m.writes_out() for m in mails)
        for m in mails:
            if m.kind is not MessageKind.person:  # bulk, bounces, auto-replies: no new leads
                continue
            if team.policy is LeadPolicy.all_mail:
                if m.new:
                    for address in m.external:
                        want(address)
                continue
            if m.from_team:
                if m.new:
                    for address in m.external:
                        want(address)
                continue
            if m.sender is None:
                continue
            to_inbox = any(a.email in team.lead_inboxes for a in m.recipients)
            # The team just wrote in the thread: everyone who wrote in it before counts.
            if (m.new and (written_in or to_inbox)) or writes_now:
                want(m.sender)
    return wanted


def _existing_leads(session: Session, workspace_id: int, emails: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(emails):
        rows = session.execute(
            select(LeadEmail.email, LeadEmail.lead_id).where(
                LeadEmail.workspace_id == workspace_id, LeadEmail.email.in_(chunk)
            )
        )
        found.update(rows.tuples().all())
    return found


def _company_name(domain: str) -> str:
    """`acme-robotics.co.uk` -> `Acme Robotics`, `xn--bcher-kva.de` -> `Bücher`: a start
    a rep can rename."""
    label = domain.split(".", 1)[0]
    with contextlib.suppress(UnicodeError):
        label = label.encode("ascii").decode("idna")
    return " ".join(w[:1].upper() + w[1:] for w in label.replace("_", "-").split("-") if w)[:200]


def _create_leads(
    session: Session,
    team: Team,
    people: dict[str, Address],
    mails: list[_Mail],
    now: dt.datetime,
) -> dict[str, int]:
    """New leads for these people (address -> id), with a company from their domain and
    the owner whose mailbox exchanged mail with them first. Rows go in as multi-row
    INSERTs: a batch can make hundreds of leads, and ORM objects cost more than the rows."""
    if not people:
        return {}
    ws = team.workspace_id
    first_box: dict[str, int] = {}
    names: dict[str, str] = {}
    for m in sorted(mails, key=lambda m: (m.sent_at, m.id)):
        for address in m.external:
            if address.email in people:
                first_box.setdefault(address.email, m.mailbox_id)
                if address.name and not names.get(address.email):
                    names[address.email] = address.name
    domains = {e: company_domain(e) for e in people}
    companies: dict[str, tuple[int, str]] = {}  # domain -> company id and name
    wanted = list(dict.fromkeys(d for d in domains.values() if d))
    for chunk in _chunks(wanted):
        found = session.execute(
            select(CompanyDomain.domain, Company.id, Company.name)
            .join(Company, Company.id == CompanyDomain.company_id)
            .where(CompanyDomain.workspace_id == ws, CompanyDomain.domain.in_(chunk))
        )
        companies.update((d, (i, n)) for d, i, n in found.tuples())
    missing = [d for d in wanted if d not in companies]
    if missing:
        made: list[dict[str, Any]] = [
            {"workspace_id": ws, "name": _company_name(d), "created_at": now} for d in missing
        ]
        ids = session.scalars(
            insert(Company).returning(Company.id, sort_by_parameter_order=True), made
        ).all()
        session.execute(
            insert(CompanyDomain),
            [
                {"workspace_id": ws, "company_id": i, "domain": d}
                for i, d in zip(ids, missing, strict=True)
            ],
        )
        companies.update((d, (i, c["name"])) for d, i, c in zip(missing, ids, made, strict=True))
    stage_id = entry_stage(Scope(session, ws)).id
    rows: list[dict[str, Any]] = []
    for email in people:
        domain = domains[email]
        company_id, company_name = companies[domain] if domain else (None, "")
        name = names.get(email, "")[:200]
        rows.append(
            {
                "workspace_id": ws,
                "email": email,
                "name": name,
                "company_id": company_id,
                "owner_id": team.owners.get(first_box.get(email, -1)),
                "stage_id": stage_id,
                "source": "mail",
                "needs_review": True,
                "search_text": search_text(name, [email], company_name),
                "created_at": now,
                "updated_at": now,
            }
        )
    session.execute(insert(_table(Lead)), rows)  # no RETURNING: SQLite goes row by row
    made_ids: dict[str, int] = {}
    for chunk in _chunks(people):
        found_ids = session.execute(
            select(Lead.email, Lead.id).where(Lead.workspace_id == ws, Lead.email.in_(chunk))
        )
        made_ids.update(found_ids.tuples().all())
    session.execute(
        insert(_table(LeadEmail)),
        [{"workspace_id": ws, "lead_id": i, "email": e} for e, i in made_ids.items()],
    )
    return made_ids


def _link(
    session: Session, team: Team, threads: dict[int, list[_Mail]], lead_of: dict[str, int]
) -> tuple[int, list[int]]:
    """A link per lead on each thread (a detached one stays detached), and the primary lead:
    the first external participant who is a lead, unless a rep chose one."""
    links: dict[tuple[int, int], bool] = {}
    heads: dict[int, tuple[int | None, bool]] = {}  # thread -> primary lead, chosen by a rep
    for chunk in _chunks(threads):
        rows = session.execute(
            select(ThreadLead.thread_id, ThreadLead.lead_id, ThreadLead.detached).where(
                ThreadLead.thread_id.in_(chunk)
            )
        )
        links.update({(t, lead): detached for t, lead, detached in rows.tuples()})
        found = session.execute(
            select(Thread.id, Thread.primary_lead_id, Thread.primary_by_rep).where(
                Thread.id.in_(chunk)
            )
        )
        heads.update((t, (lead, by_rep)) for t, lead, by_rep in found.tuples())
    new_links: list[dict[str, Any]] = []
    primaries: list[dict[str, Any]] = []
    for thread_id, mails in threads.items():
        leads = list(
            dict.fromkeys(lead_of[a.email] for m in mails for a in m.external if a.email in lead_of)
        )
        for lead_id in leads:
            if (thread_id, lead_id) not in links:
                links[(thread_id, lead_id)] = False
                new_links.append(
                    {"workspace_id": team.workspace_id, "thread_id": thread_id,
                     "lead_id": lead_id, "source": LinkSource.mail, "detached": False}
                )  # fmt: skip
        current, by_rep = heads.get(thread_id, (None, True))
        if by_rep:
            continue
        primary = next((i for i in leads if not links[(thread_id, i)]), None)
        if primary is None:  # a lead attached by hand, if that is all there is
            primary = next(
                (lead for (t, lead), off in links.items() if t == thread_id and not off), None
            )
        if current != primary:
            primaries.append({"thread": thread_id, "lead": primary})
    if new_links:
        session.execute(insert(_table(ThreadLead)), new_links)
    if primaries:
        table = _table(Thread)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("thread"))
            .values(primary_lead_id=bindparam("lead")),
            primaries,
        )
        _expire(session, Thread, (p["thread"] for p in primaries), ["primary_lead_id"])
    return len(new_links), [p["thread"] for p in primaries if p["lead"] is not None]


def _label_new_primaries(session: Session, thread_ids: list[int], now: dt.datetime) -> None:
    """A thread whose primary lead is already past the entry stage should carry that
    stage's Gmail label: queue it for the relabel job, as a move would."""
    if not thread_ids:
        return
    for chunk in _chunks(thread_ids):
        staged = (
            select(Thread.id)
            .join(Lead, Lead.id == Thread.primary_lead_id)
            .join(Stage, Stage.id == Lead.stage_id)
            .where(Thread.id.in_(chunk), Stage.label.is_not(None))
        )
        queue_relabel(session, now, Thread.id.in_(staged))


def _expire(session: Session, model: type[Any], ids: Iterable[int], fields: list[str]) -> None:
    """Bulk statements bypass loaded objects: let those read the new values."""
    for row_id in ids:
        loaded = session.identity_map.get(Session.identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded, fields)


def _activities(
    session: Session, team: Team, mails: list[_Mail], lead_of: dict[str, int]
) -> Events:
    """`message_in` from a lead, `message_out` to each lead the team wrote to: once per
    lead per message, however many mailboxes hold it. Returns what was added, per lead."""
    wanted: dict[tuple[int, str], tuple[ActivityKind, _Mail]] = {}
    for m in mails:
        if m.kind is not MessageKind.person:  # an auto-reply is linked, not counted
            continue
        if m.from_team:
            for address in m.external:
                if address.email in lead_of:
                    key = (lead_of[address.email], m.copy_key)
                    wanted.setdefault(key, (ActivityKind.message_out, m))
        elif m.sender is not None and m.sender.email in lead_of:
            key = (lead_of[m.sender.email], m.copy_key)
            wanted.setdefault(key, (ActivityKind.message_in, m))
    if not wanted:
        return {}
    leads = {lead for lead, _ in wanted}
    earliest = min(m.sent_at for _, m in wanted.values()) - COPY_SKEW
    latest = max(m.sent_at for _, m in wanted.values()) + COPY_SKEW
    done: set[tuple[int, str]] = set()
    for chunk in _chunks(leads):
        rows = session.execute(
            select(Activity.lead_id, Activity.message_id, Message.rfc_message_id)
            .join(Message, Message.id == Activity.message_id)
            .where(
                Activity.lead_id.in_(chunk),
                Activity.occurred_at.between(earliest, latest),
                Activity.kind.in_((ActivityKind.message_in, ActivityKind.message_out)),
            )
        )
        done.update((lead, rfc or f"#{mid}") for lead, mid, rfc in rows.tuples())
    given: Events = {}
    adding: list[dict[str, Any]] = []
    for key, (kind, m) in wanted.items():
        if key in done:
            continue
        adding.append(
            {"workspace_id": team.workspace_id, "lead_id": key[0], "kind": kind,
             "occurred_at": m.sent_at, "message_id": m.id, "detail": {}}
        )  # fmt: skip
        given.setdefault(key[0], []).append((kind, m.sent_at))
    if adding:
        session.execute(insert(_table(Activity)), adding)
    return given


Events = dict[int, list[tuple[ActivityKind, dt.datetime]]]  # lead id -> activities added


def _contact_times(session: Session, events: Events, now: dt.datetime) -> None:
    """Keep first inbound, first response after it and last contact up to date from the
    activities just added. Only a lead whose first inbound moved is looked up again (its
    first response may be a message stored before)."""
    if not events:
        return
    current: dict[int, tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None]] = {}
    for chunk in _chunks(events):
        rows = session.execute(
            select(Lead.id, Lead.first_inbound_at, Lead.first_response_at,
                   Lead.last_contacted_at).where(Lead.id.in_(chunk))
        )  # fmt: skip
        current.update((i, (a, b, c)) for i, a, b, c in rows.tuples())
    changes: dict[int, dict[str, Any]] = {}
    moved: list[int] = []
    for lead_id, added in events.items():
        first_in, first_reply, last = current.get(lead_id, (None, None, None))
        ins = [t for kind, t in added if kind is ActivityKind.message_in]
        start = min([t for t in (first_in, *ins) if t is not None], default=None)
        if start is not None and start != first_in:
            moved.append(lead_id)
        elif start is not None:
            after = [t for kind, t in added if kind is ActivityKind.message_out and t > start]
            first_reply = min([t for t in (first_reply, *after) if t is not None], default=None)
        changes[lead_id] = {
            "lead": lead_id,
            "first_in": start,
            "first_reply": first_reply,
            # Never earlier than it was: other kinds of contact may have set it.
            "last": max(t for t in (last, *(t for _, t in added)) if t is not None),
            "now": now,
        }
    for chunk in _chunks(moved):
        for lead_id in chunk:
            changes[lead_id]["first_reply"] = None
        starts = {i: changes[i]["first_in"] for i in chunk}
        replies = session.execute(
            select(Activity.lead_id, Activity.occurred_at).where(
                Activity.lead_id.in_(chunk), Activity.kind == ActivityKind.message_out
            )
        )
        for lead_id, at in replies.tuples():
            best = changes[lead_id]["first_reply"]
            if at > starts[lead_id] and (best is None or at < best):
                changes[lead_id]["first_reply"] = at
    table = _table(Lead)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("lead"))
        .values(
            first_inbound_at=bindparam("first_in"),
            first_response_at=bindparam("first_reply"),
            last_contacted_at=bindparam("last"),
            updated_at=bindparam("now"),
        ),
        list(changes.values()),
    )
    _expire(session, Lead, changes, [*CONTACT_TIMES, "updated_at"])


def _capture(
    session: Session,
    workspace_id: int,
    thread_ids: Sequence[int],
    new: set[int] | None,
    now: dt.datetime,
    create: bool,
    policy: LeadPolicy | None = None,
) -> Captured:
    team = Team.load(session, workspace_id)
    if policy is not None:
        team = dataclasses.replace(team, policy=policy)
    mails = _read(session, team, thread_ids, new)
    threads: dict[int, list[_Mail]] = {}
    for m in mails:
        threads.setdefault(m.thread_id, []).append(m)
    everyone = {a.email for m in mails for a in m.external}
    lead_of = _existing_leads(session, workspace_id, everyone)
    result = Captured()
    if create:
        people = {e: a for e, a in _candidates(team, threads).items() if e not in lead_of}
        created = _create_leads(session, team, people, mails, now)
        lead_of.update(created)
        result.created = list(created.values())
    result.links, primaries = _link(session, team, threads, lead_of)
    _label_new_primaries(session, primaries, now)
    added = _activities(session, team, mails, lead_of)
    result.activities = sum(len(events) for events in added.values())
    _contact_times(session, added, now)
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
) -> Captured:
    """Capture these threads: `new` names the messages just stored (None: all of them
    are, as in a backfill); `create=False` only links existing leads; `policy` overrides
    the workspace's (a stage label on a thread makes its people leads). Flushes, never
    commits; a savepoint keeps a lost race with another sync from undoing the caller's work."""
    ids = list(dict.fromkeys(thread_ids))
    if not ids:
        return Captured()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite runs one writer at a time (a lost race fails the batch, retried at the
        # next poll), and a savepoint opened before any write would commit on release.
        return _capture(session, workspace_id, ids, new, now, create, policy)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with session.begin_nested():
                return _capture(session, workspace_id, ids, new, now, create, policy)
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
    )


def _threads_mentioning(session: Session, workspace_id: int, emails: set[str]) -> list[int]:
    """Threads whose messages name one of these addresses in From, To or Cc."""
    if not emails:
        return []
    found: set[int] = set()
    columns = (Message.from_addr, Message.to_addrs, Message.cc_addrs)
    if len(emails) <= 20:  # a few people: let the database do the substring scan
        terms = [c.contains(e, autoescape=True) for e in emails for c in columns]
        query = select(Message.thread_id, *columns).where(
            Message.workspace_id == workspace_id, or_(*terms)
        )
    else:  # many people: one pass in Python beats one scan per handful of them
        query = select(Message.thread_id, *columns).where(Message.workspace_id == workspace_id)
    for thread_id, *headers in session.execute(query.execution_options(yield_per=5000)):
        if thread_id in found:
            continue
        if any(a.email in emails for h in headers for a in parse_addresses(h)):
            found.add(thread_id)
    return sorted(found)


def link_existing_mail(
    session: Session, workspace_id: int, lead_ids: Iterable[int], now: dt.datetime
) -> Captured:
    """Match leads to the mail already stored: a lead added by hand, or one a sync created
    whose earlier threads were stored before it existed. Links and activities only."""
    ids = list(lead_ids)
    if not ids:
        return Captured()
    emails: set[str] = set()
    for chunk in _chunks(ids):
        emails.update(session.scalars(select(LeadEmail.email).where(LeadEmail.lead_id.in_(chunk))))
    threads = _threads_mentioning(session, workspace_id, emails)
    result = Captured()
    for chunk in _chunks(threads, 200):
        result.add(capture_threads(session, workspace_id, chunk, now, create=False))
    return result


RECAPTURE_STEP = 2000  # threads a step captures again, in one transaction


def recapture_step(session: Session, workspace_id: int, now: dt.datetime) -> Captured | None:
    """Capture the next threads of stored mail again, after the rules changed, and move the
    workspace's cursor past them; None when nothing is pending. The cursor moves by a
    conditional update, so of two clocks stepping at once, one step counts (capture is
    idempotent: the other one's work changes nothing)."""
    start = session.scalar(select(Workspace.recapture_from).where(Workspace.id == workspace_id))
    if start is None:
        return None
    ids = list(
        session.scalars(
            select(Thread.id)
            .where(Thread.workspace_id == workspace_id, Thread.id > start)
            .order_by(Thread.id)
            .limit(RECAPTURE_STEP)
        )
    )
    result = Captured()
    for chunk in _chunks(ids, 200):
        result.add(capture_threads(session, workspace_id, chunk, now))
    session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id, Workspace.recapture_from == start)
        .values(
            recapture_from=ids[-1] if len(ids) == RECAPTURE_STEP else None,
            recapture_created=Workspace.recapture_created + len(result.created),
        ),
        execution_options={"synchronize_session": False},
    )
    return result


def recapture(session: Session, workspace_id: int, now: dt.datetime) -> Captured:
    """Capture all stored mail again, now (the clock does it a step at a time)."""
    session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(recapture_from=0, recapture_created=0),
        execution_options={"synchronize_session": False},
    )
    result = Captured()
    while (step := recapture_step(session, workspace_id, now)) is not None:
        result.add(step)
    return result


MAX_LEAD_INBOXES = 20


def parse_lead_inboxes(raw: str | Iterable[str]) -> list[str]:
    """`sales@acme.com, Hello@Acme.com` -> normalized addresses, each once, in order."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    inboxes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise Invalid("lead inboxes are email addresses", {"lead_inboxes": "not text"})
        try:
            address = normalize_email(item)
        except Invalid:
            raise Invalid(
                f"{item!r} is not an email address", {"lead_inboxes": f"{item!r} is not an address"}
            ) from None
        if address not in inboxes:
            inboxes.append(address)
    if len(inboxes) > MAX_LEAD_INBOXES:
        raise Invalid(
            f"at most {MAX_LEAD_INBOXES} lead inboxes", {"lead_inboxes": "too many addresses"}
        )
    return inboxes


def change_settings(
    session: Session,
    actor: Member,
    policy: LeadPolicy,
    lead_inboxes: list[str],
) -> bool:
    """An admin sets the lead policy and lead inboxes; a change has capture run again over
    the stored mail, so the leads match the new rules without waiting for new mail.
    Returns whether anything changed."""
    if actor.role is not Role.admin:
        raise Forbidden("only admins can change how leads are captured")
    workspace = session.get_one(Workspace, actor.workspace_id)
    if workspace.lead_policy is policy and list(workspace.lead_inboxes or []) == lead_inboxes:
        return False
    workspace.lead_policy = policy
    workspace.lead_inboxes = lead_inboxes
    # The clock applies the new rules to the stored mail (leads/jobs.py): a web request
    # would time out on a large workspace.
    workspace.recapture_from, workspace.recapture_created = 0, 0
    return True

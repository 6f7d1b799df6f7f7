"""The clock's advance of due enrollments, set-based: a claim of up to BATCH due rows,
then a few queries for all of them (their leads, last sends, the tracking hits of those
sends, suppressions, senders), the pure `plan.advance` for each, and one statement per kind of
write (the Sends planned through the outbox, tasks, history, the enrollments themselves).

Each email step is one Send of source `step` and source id "enrollment:step", so a
replayed tick (a crash before the commit, two clocks at once) plans the same Send once.
An enrollment that must leave (its lead removed, moved to an exit stage, suppressed)
leaves here, before anything is planned for it."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session, selectinload

from inboxcrm import queue
from inboxcrm.accounts.models import Mailbox, Member, Workspace
from inboxcrm.campaigns.merge import context_for
from inboxcrm.campaigns.models import TemplateVersion
from inboxcrm.campaigns.render import Compiled, TemplateProblem, compile_template
from inboxcrm.db import Database, chunks, conflict_insert
from inboxcrm.leads.capture.bulk import update_by_id
from inboxcrm.leads.models import Activity, ActivityKind, Company, Lead
from inboxcrm.leads.moves import move_lead
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.outbox.models import (
    ACTIVE,
    HitKind,
    Send,
    SourceKind,
    SuppressionReason,
    TrackingHit,
    Verdict,
)
from inboxcrm.outbox.service import Planned, plan_many
from inboxcrm.outbox.suppression import suppressed
from inboxcrm.outbox.windows import WORKING_HOURS, Window, zone
from inboxcrm.runtime import Runtime
from inboxcrm.sequences.exits import Exit, exit_enrollments
from inboxcrm.sequences.history import Event, record
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentState,
    EventKind,
    ExitReason,
    OnTemplateError,
    Outcome,
    Task,
)
from inboxcrm.sequences.models import (
    Sequence as SequenceRow,
)
from inboxcrm.sequences.plan import Email, Facts, LastEmail, advance
from inboxcrm.sequences.service import plan_of, sender_of
from inboxcrm.stages.models import ChangeSource, Stage
from inboxcrm.tenancy import Scope

BATCH = 5000
LEASE = dt.timedelta(minutes=5)
TICK_SECONDS = 20.0
RETRY = dt.timedelta(hours=1)  # no mailbox to send from, or a template to be fixed


@dataclass
class Advanced:
    enrollments: int = 0
    planned: int = 0
    skipped: int = 0
    tasks: int = 0
    finished: int = 0
    exited: int = 0

    def add(self, other: Advanced) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def advance_due(runtime: Runtime, now: dt.datetime) -> Advanced:
    return advance_enrollments(runtime.database, now)


def advance_enrollments(database: Database, now: dt.datetime, limit: int = BATCH) -> Advanced:
    """Advance what is due, a batch per transaction, until none is left or the tick's
    time is up."""
    total = Advanced()
    deadline = time.monotonic() + TICK_SECONDS
    while time.monotonic() < deadline:
        with database.session() as session:
            ids = queue.claim(
                session,
                Enrollment.next_at,
                now,
                LEASE,
                Enrollment.state == EnrollmentState.active,
                limit=limit,
            )
            if not ids:
                break
            total.add(advance_batch(session, ids, now))
        if len(ids) < limit:
            break
    return total


@dataclass(frozen=True)
class Row:
    id: int
    workspace_id: int
    sequence_id: int
    lead_id: int | None
    step_id: int | None
    step_at: dt.datetime
    last_send_id: int | None


@dataclass
class Writes:
    rows: list[dict[str, Any]] = field(default_factory=list)
    events: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    exits: dict[int, list[Exit]] = field(default_factory=lambda: defaultdict(list))
    sends: dict[int, list[tuple[int, Planned]]] = field(default_factory=lambda: defaultdict(list))
    tasks: list[dict[str, Any]] = field(default_factory=list)
    notices: dict[int, list[Notice]] = field(default_factory=lambda: defaultdict(list))
    no_response: list[tuple[int, int, int]] = field(default_factory=list)


def advance_batch(session: Session, ids: list[int], now: dt.datetime) -> Advanced:
    done = Advanced(enrollments=len(ids))
    rows: list[Row] = []
    for chunk in chunks(ids):
        rows += [
            Row(*r)
            for r in session.execute(
                select(
                    Enrollment.id,
                    Enrollment.workspace_id,
                    Enrollment.sequence_id,
                    Enrollment.lead_id,
                    Enrollment.step_id,
                    Enrollment.step_at,
                    Enrollment.last_send_id,
                ).where(Enrollment.id.in_(chunk))
            ).tuples()
        ]
    sequences = {
        s.id: s
        for s in session.scalars(
            select(SequenceRow)
            .where(SequenceRow.id.in_({r.sequence_id for r in rows}))
            .options(selectinload(SequenceRow.steps))
        )
    }
    leads = _leads(session, {r.lead_id for r in rows if r.lead_id is not None})
    lasts = _last_sends(session, {r.last_send_id for r in rows if r.last_send_id is not None})
    engaged = _engaged(session, rows, sequences, lasts)
    writes = Writes()
    by_workspace: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        by_workspace[r.workspace_id].append(r)
    for workspace_id, mine in by_workspace.items():
        _workspace(session, workspace_id, mine, sequences, leads, lasts, engaged, writes, now, done)
    for workspace_id, exits in writes.exits.items():
        done.exited += len(exit_enrollments(session, workspace_id, exits, now))
    planned: dict[tuple[str, int], int] = {}
    for workspace_id, sends in writes.sends.items():
        planned.update(plan_many(session, workspace_id, SourceKind.step, [p for _, p in sends]))
    for values in writes.rows:
        key = values.pop("send_key", None)
        if key is not None:
            values["v_send"] = planned.get(key, values["v_send"])
    if writes.rows:
        update_by_id(
            session,
            Enrollment,
            writes.rows,
            {
                "step_id": "v_step",
                "step_at": "v_step_at",
                "next_at": "v_next",
                "state": "v_state",
                "last_send_id": "v_send",
                "ended_at": "v_ended",
                "live_lead_id": "v_live",
                "outcome": "v_outcome",
            },
        )
    _insert_tasks(session, writes.tasks)
    for workspace_id, events in writes.events.items():
        record(session, workspace_id, events)
    for workspace_id, notices in writes.notices.items():
        notify(session, workspace_id, notices, now)
    _move_no_response(session, writes.no_response, sequences, now)
    done.planned = sum(len(s) for s in writes.sends.values())
    done.tasks = len(writes.tasks)
    session.flush()
    return done


def _leads(session: Session, ids: set[int]) -> dict[int, Lead]:
    found: dict[int, Lead] = {}
    for chunk in chunks(sorted(ids)):
        found.update(
            (lead.id, lead)
            for lead in session.scalars(
                select(Lead)
                .where(Lead.id.in_(chunk))
                .options(selectinload(Lead.company).selectinload(Company.domains))
            ).unique()
        )
    return found


@dataclass(frozen=True)
class SendFacts:
    step_id: int | None
    pending: bool
    sent_at: dt.datetime | None
    due_at: dt.datetime | None
    subject: str
    message_id: str | None
    references: str | None
    gmail_thread_id: str | None
    lead_id: int | None


def _last_sends(session: Session, ids: set[int]) -> dict[int, SendFacts]:
    found: dict[int, SendFacts] = {}
    for chunk in chunks(sorted(ids)):
        for row in session.execute(
            select(
                Send.id,
                Send.source_id,
                Send.state,
                Send.sent_at,
                Send.due_at,
                Send.subject,
                Send.message_id,
                Send.references,
                Send.gmail_thread_id,
                Send.lead_id,
            ).where(Send.id.in_(chunk))
        ).tuples():
            send_id, source, state, sent_at, due_at, subject, mid, refs, thread, lead = row
            step = source.split(":", 1)[1] if ":" in source else ""
            found[send_id] = SendFacts(
                int(step) if step.isdigit() else None,
                state in ACTIVE,
                sent_at,
                due_at,
                subject,
                mid,
                refs,
                thread,
                lead,
            )
    return found


@dataclass(frozen=True)
class Engaged:
    """What the lead did to one sent email, as its conditions read it."""

    opened: bool = False
    clicked: bool = False
    replied: bool = False


def _engaged(
    session: Session,
    rows: list[Row],
    sequences: dict[int, SequenceRow],
    lasts: dict[int, SendFacts],
) -> dict[int, Engaged]:
    """For enrollments in sequences with conditions, by their last Send: whether a person
    opened or clicked that very email (its own tracking hits with a person's verdict: the
    fetches of Apple's and Gmail's proxies and of scanners do not count, nor opens of any
    other mail; a click is an open too, images may be off), and whether the lead replied
    since it was sent (any reply, as a reply ends an enrollment whatever its thread)."""
    wanted: dict[int, tuple[int, int, dt.datetime]] = {}  # send: workspace, lead, sent
    for r in rows:
        sequence = sequences.get(r.sequence_id)
        if sequence is None or not any(s.condition is not None for s in sequence.live_steps):
            continue
        last = lasts.get(r.last_send_id) if r.last_send_id is not None else None
        if last is not None and last.sent_at is not None and r.lead_id is not None:
            assert r.last_send_id is not None
            wanted[r.last_send_id] = (r.workspace_id, r.lead_id, last.sent_at)
    if not wanted:
        return {}
    hits: dict[int, set[HitKind]] = defaultdict(set)
    refs = sorted((workspace, str(send)) for send, (workspace, _l, _s) in wanted.items())
    for pairs in chunks(refs):
        for ref, kind in session.execute(
            select(TrackingHit.send_ref, TrackingHit.kind)
            .where(
                tuple_(TrackingHit.workspace_id, TrackingHit.send_ref).in_(pairs),
                TrackingHit.verdict == Verdict.person,
                TrackingHit.kind.in_((HitKind.open, HitKind.click)),
            )
            .distinct()
        ).tuples():
            hits[int(ref)].add(kind)
    replied: dict[int, dt.datetime] = {}
    since = min(sent for _w, _l, sent in wanted.values())
    for leads in chunks(sorted({lead for _w, lead, _s in wanted.values()})):
        for lead_id, at in session.execute(
            select(Activity.lead_id, func.max(Activity.occurred_at))
            .where(
                Activity.lead_id.in_(leads),
                Activity.kind == ActivityKind.reply,
                Activity.occurred_at >= since,
            )
            .group_by(Activity.lead_id)
        ).tuples():
            if at is not None and lead_id is not None:
                replied[lead_id] = at
    found: dict[int, Engaged] = {}
    for send_id, (_workspace, lead_id, sent_at) in wanted.items():
        did = hits.get(send_id, set())
        answer = replied.get(lead_id)
        found[send_id] = Engaged(
            opened=bool(did),
            clicked=HitKind.click in did,
            replied=answer is not None and answer >= sent_at,
        )
    return found


def _workspace(
    session: Session,
    workspace_id: int,
    rows: list[Row],
    sequences: dict[int, SequenceRow],
    leads: dict[int, Lead],
    lasts: dict[int, SendFacts],
    engaged: dict[int, Engaged],
    writes: Writes,
    now: dt.datetime,
    done: Advanced,
) -> None:
    scope = Scope(session, workspace_id)
    workspace = session.get_one(Workspace, workspace_id)
    mine = [leads[r.lead_id] for r in rows if r.lead_id in leads]
    blocked = suppressed(session, workspace_id, [lead.email for lead in mine])
    senders: dict[int, dict[int | None, int | None]] = {}
    for sequence_id in {r.sequence_id for r in rows}:
        if sequence_id in sequences:
            senders[sequence_id] = sender_of(
                scope, sequences[sequence_id], {lead.owner_id for lead in mine}
            )
    mailboxes = {
        m.id: m
        for m in session.scalars(
            select(Mailbox).where(
                Mailbox.id.in_({v for s in senders.values() for v in s.values() if v is not None})
            )
        )
    }
    members = {
        m.id: m
        for m in session.scalars(
            select(Member).where(Member.id.in_({m.member_id for m in mailboxes.values()}))
        )
    }
    compiled: dict[int, Compiled | TemplateProblem] = {}
    for r in rows:
        sequence = sequences.get(r.sequence_id)
        lead = leads.get(r.lead_id) if r.lead_id is not None else None
        if sequence is None:
            continue
        if lead is None:
            writes.exits[workspace_id].append(Exit(r.id, ExitReason.removed))
            continue
        if lead.stage.kind.value in sequence.exit_stage_kinds:
            writes.exits[workspace_id].append(Exit(r.id, ExitReason.stage, lead.stage.name))
            continue
        if (found := blocked.get(lead.email)) is not None:
            reason = (
                ExitReason.bounced
                if found.reason is SuppressionReason.hard_bounce
                else ExitReason.unsubscribed
            )
            writes.exits[workspace_id].append(Exit(r.id, reason, "suppressed"))
            continue
        steps = tuple(plan_of(s) for s in sequence.live_steps)
        last = lasts.get(r.last_send_id) if r.last_send_id is not None else None
        did = engaged.get(r.last_send_id or 0, Engaged())
        facts = Facts(
            r.step_id,
            r.step_at,
            LastEmail(
                last.step_id or 0,
                last.pending,
                last.sent_at,
                last.due_at,
                did.opened,
                did.clicked,
                did.replied,
            )
            if last is not None
            else None,
        )
        tz = zone(lead.timezone, workspace.timezone)
        result = advance(facts, steps, now, tz)
        events = writes.events[workspace_id]
        events += [Event(r.id, EventKind.skipped, now, step, why) for step, why in result.skipped]
        events += [Event(r.id, EventKind.waited, now, step) for step in result.waited]
        update: dict[str, Any] = {
            "row": r.id,
            "v_step": result.step_id,
            "v_step_at": result.step_at,
            "v_next": result.next_at,
            "v_state": EnrollmentState.active.value,
            "v_send": r.last_send_id,
            "v_ended": None,
            "v_live": lead.id,
            "v_outcome": None,
        }
        if result.email is not None:
            sender = senders[sequence.id].get(lead.owner_id)
            mailbox = mailboxes.get(sender) if sender is not None else None
            member = members.get(mailbox.member_id) if mailbox is not None else None
            planned = None
            why = "no connected Gmail to send from"
            if mailbox is not None and member is not None:
                planned, why = _email(
                    result.email, r, lead, sequence, mailbox, member, last, compiled, session, now
                )
            step_id = result.email.step.id
            if planned is not None:
                writes.sends[workspace_id].append((r.id, planned))
                update["send_key"] = (planned.source_id, lead.id)
                events.append(Event(r.id, EventKind.planned, now, step_id, planned.subject))
            elif why and (mailbox is None or sequence.on_template_error is OnTemplateError.wait):
                # wait at the step: the mailbox is connected or the template fixed later
                update.update(v_step=step_id, v_step_at=r.step_at, v_next=now + RETRY)
                events.append(Event(r.id, EventKind.waited, now, step_id, why))
                writes.rows.append(update)
                continue
            else:
                done.skipped += 1
                events.append(Event(r.id, EventKind.skipped, now, step_id, why))
        if result.task is not None:
            update["v_state"] = EnrollmentState.task.value
            writes.tasks.append(
                {
                    "workspace_id": workspace_id,
                    "enrollment_id": r.id,
                    "step_id": result.task.id,
                    "lead_id": lead.id,
                    "member_id": lead.owner_id,
                    "text": result.task.task,
                    "created_at": now,
                }
            )
            events.append(Event(r.id, EventKind.task, now, result.task.id, result.task.task))
            writes.notices[workspace_id].append(
                Notice(
                    lead.id,
                    NoticeKind.task,
                    f"{{lead}}: {result.task.task}",
                    f"task:{r.id}:{result.task.id}",
                )
            )
        if result.finished:
            done.finished += 1
            update.update(
                v_state=EnrollmentState.finished.value, v_ended=now, v_live=None, v_next=None
            )
            if sequence.reengagement:
                update["v_outcome"] = Outcome.no_response.value
                writes.no_response.append((r.id, sequence.id, lead.id))
            events.append(Event(r.id, EventKind.finished, now))
        writes.rows.append(update)


def _compiled(
    session: Session, version_id: int, cache: dict[int, Compiled | TemplateProblem]
) -> Compiled | TemplateProblem:
    if version_id not in cache:
        version = session.get_one(TemplateVersion, version_id)
        try:
            cache[version_id] = compile_template(version.subject, version.body)
        except TemplateProblem as exc:
            cache[version_id] = exc
    return cache[version_id]


def _email(
    email: Email,
    r: Row,
    lead: Lead,
    sequence: SequenceRow,
    mailbox: Mailbox,
    member: Member,
    last: SendFacts | None,
    cache: dict[int, Compiled | TemplateProblem],
    session: Session,
    now: dt.datetime,
) -> tuple[Planned | None, str]:
    """The step's Send for this lead, rendered now (None and why: the template failed)."""
    assert email.step.template_version_id is not None
    template = _compiled(session, email.step.template_version_id, cache)
    if isinstance(template, TemplateProblem):
        return None, f"template error: {template.message}"
    context = context_for(lead, member)
    try:
        rendered = template.render(context)
    except TemplateProblem:
        try:  # once more: a render cut short by its deadline may have met a pause (GC)
            rendered = template.render(context)
        except TemplateProblem as exc:
            return None, f"template error: {exc.message}"
    subject, thread = rendered.subject, None
    if email.follow_up and last is not None and last.gmail_thread_id and last.message_id:
        subject = last.subject  # the same subject, so Gmail keeps the thread: never "Re:"
        references = " ".join(p for p in (last.references, last.message_id) if p)
        thread = (last.gmail_thread_id, last.message_id, references)
    window = Window.from_json(sequence.window) if sequence.window else WORKING_HOURS
    return (
        Planned(
            source_id=f"{r.id}:{email.step.id}",
            lead_id=lead.id,
            mailbox_id=mailbox.id,
            to_email=lead.email,
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            due_at=now,
            member_id=member.id,
            window=window,
            thread=thread,
        ),
        "",
    )


def _insert_tasks(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = conflict_insert(session, Task)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["enrollment_id", "step_id"]), rows)


def _move_no_response(
    session: Session,
    finished: Iterable[tuple[int, int, int]],
    sequences: dict[int, SequenceRow],
    now: dt.datetime,
) -> None:
    """A re-engagement that got no answer moves its lead to the sequence's stage for it
    (Nurture by default)."""
    for enrollment_id, sequence_id, lead_id in finished:
        sequence = sequences[sequence_id]
        if sequence.no_response_stage_id is None:
            continue
        scope = Scope(session, sequence.workspace_id)
        lead, stage = scope.find(Lead, lead_id), scope.find(Stage, sequence.no_response_stage_id)
        if lead is None or stage is None:
            continue
        if move_lead(
            scope,
            lead,
            stage,
            source=ChangeSource.rule,
            now=now,
            detail=f"no response: {sequence.name}",
        ):
            record(
                session,
                sequence.workspace_id,
                [Event(enrollment_id, EventKind.moved, now, None, f"to {stage.name}")],
            )

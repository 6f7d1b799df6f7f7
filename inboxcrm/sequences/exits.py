"""Leaving a sequence the moment one should, and the out-of-office pause.

- `sequence_exits`, a sync step after the signals: a reply (from any of the lead's
  addresses; anyone at its company when the sequence says so), an accepted meeting, a
  hard bounce or an unsubscribe request in the batch ends the lead's live enrollments
  begun before it, in the batch's transaction; an out-of-office postpones the next step
  (and a planned send) to the day after its return date, or DEFAULT_AWAY when none.
- `left_sequence`, a check at send time (setup adds it to the outbox's checks): a step's
  Send whose enrollment ended, or whose lead replied since enrolling, is skipped. So a
  follow-up never goes after a reply that has synced, even one synced seconds before.
- `exit_enrollments`: the one way an enrollment is ended early, with its reason, its
  planned send skipped, its history and, for a re-engagement, its outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inboxcrm.db import chunks
from inboxcrm.events import EventType, emit_many
from inboxcrm.leads.capture.bulk import update_by_id
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.leads.moves import move_lead
from inboxcrm.leads.serialize import lead_refs
from inboxcrm.mail.steps import Batch
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.outbox.checks import Due
from inboxcrm.outbox.models import Send, SendState, SkipReason, SourceKind
from inboxcrm.sequences.history import Event, record
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentState,
    EventKind,
    ExitReason,
    Outcome,
    Task,
)
from inboxcrm.sequences.models import (
    Sequence as SequenceRow,
)
from inboxcrm.stages.models import ChangeSource, Stage
from inboxcrm.tenancy import Scope

DEFAULT_AWAY = dt.timedelta(days=7)
ENDING = {
    ActivityKind.reply: ExitReason.replied,
    ActivityKind.meeting: ExitReason.meeting,
    ActivityKind.unsubscribe: ExitReason.unsubscribed,
    ActivityKind.bounce: ExitReason.bounced,
}
ANSWERS = (ActivityKind.reply, ActivityKind.meeting, ActivityKind.unsubscribe)
REWARMING = frozenset(
    {ExitReason.replied, ExitReason.meeting, ExitReason.rewarmed, ExitReason.company_replied}
)


@dataclass(frozen=True)
class Exit:
    enrollment_id: int
    reason: ExitReason
    detail: str = ""


def exit_enrollments(
    session: Session, workspace_id: int, exits: Sequence[Exit], now: dt.datetime
) -> list[int]:
    """End these enrollments (the live ones among them; the first reason given wins),
    skip their planned sends, close their tasks; returns the ids ended."""
    wanted: dict[int, Exit] = {}
    for e in exits:
        wanted.setdefault(e.enrollment_id, e)
    if not wanted:
        return []
    live: list[tuple[int, int, int | None, int | None, int | None]] = []
    for chunk in chunks(sorted(wanted)):
        live += (
            session.execute(
                select(
                    Enrollment.id,
                    Enrollment.sequence_id,
                    Enrollment.lead_id,
                    Enrollment.last_send_id,
                    Enrollment.step_id,
                ).where(
                    Enrollment.workspace_id == workspace_id,
                    Enrollment.id.in_(chunk),
                    Enrollment.ended_at.is_(None),
                )
            )
            .tuples()
            .all()
        )
    if not live:
        return []
    reengaging = _reengaging(session, {row[1] for row in live})
    rows: list[dict[str, Any]] = []
    for enrollment_id, sequence_id, _lead, _send, _step in live:
        reason = wanted[enrollment_id].reason
        outcome = None
        if sequence_id in reengaging:
            outcome = Outcome.rewarmed if reason in REWARMING else None
        rows.append(
            {
                "row": enrollment_id,
                "v_state": EnrollmentState.exited.value,
                "v_reason": reason.value,
                "v_ended": now,
                "v_live": None,
                "v_next": None,
                "v_outcome": outcome.value if outcome else None,
            }
        )
    update_by_id(
        session,
        Enrollment,
        rows,
        {
            "state": "v_state",
            "exit_reason": "v_reason",
            "ended_at": "v_ended",
            "live_lead_id": "v_live",
            "next_at": "v_next",
            "outcome": "v_outcome",
        },
    )
    ids = [row[0] for row in live]
    sends = [row[3] for row in live if row[3] is not None]
    for chunk in chunks(sends):
        session.execute(
            update(Send)
            .where(Send.id.in_(chunk), Send.state == SendState.planned)
            .values(state=SendState.skipped, reason=SkipReason.exited, due_at=None),
            execution_options={"synchronize_session": False},
        )
    for chunk in chunks(ids):
        session.execute(
            update(Task)
            .where(Task.enrollment_id.in_(chunk), Task.done_at.is_(None))
            .values(done_at=now, skipped=True),
            execution_options={"synchronize_session": False},
        )
    record(
        session,
        workspace_id,
        [
            Event(
                i,
                EventKind.exited,
                now,
                step,
                f"{wanted[i].reason.value.replace('_', ' ')}"
                + (f": {wanted[i].detail}" if wanted[i].detail else ""),
            )
            for i, _s, _l, _send, step in live
        ],
    )
    rewarmed = [
        (i, s, lead)
        for i, s, lead, _send, _step in live
        if s in reengaging and wanted[i].reason in REWARMING and lead is not None
    ]
    if rewarmed:
        _rewarmed(session, workspace_id, rewarmed, reengaging, now)
    _emit_exits(session, workspace_id, [(i, s, lead, wanted[i]) for i, s, lead, *_ in live], now)
    return ids


def _emit_exits(
    session: Session,
    workspace_id: int,
    ended: list[tuple[int, int, int | None, Exit]],
    now: dt.datetime,
) -> None:
    """A `sequence.exited` event per enrollment ended, in the same transaction."""
    names: dict[int, str] = {}
    for chunk in chunks({s for _i, s, _l, _e in ended}):
        rows = session.execute(
            select(SequenceRow.id, SequenceRow.name).where(SequenceRow.id.in_(chunk))
        )
        names.update(rows.tuples().all())
    who = lead_refs(session, [lead for _i, _s, lead, _e in ended])
    emit_many(session, workspace_id, EventType.sequence_exited, now, [
        (lead, {"enrollment_id": i, "sequence": {"id": s, "name": names.get(s)},
                "lead": who.get(lead) if lead is not None else None,
                "reason": e.reason.value, "detail": e.detail or None})
        for i, s, lead, e in ended
    ])  # fmt: skip


def _reengaging(session: Session, sequence_ids: set[int]) -> dict[int, SequenceRow]:
    return {
        s.id: s
        for s in session.scalars(
            select(SequenceRow).where(SequenceRow.id.in_(sequence_ids), SequenceRow.reengagement)
        )
    }


def _rewarmed(
    session: Session,
    workspace_id: int,
    rewarmed: list[tuple[int, int, int]],
    sequences: dict[int, SequenceRow],
    now: dt.datetime,
) -> None:
    """A re-engaged lead came back: its owner hears of it, and it moves to the stage the
    sequence names (if any)."""
    notify(
        session,
        workspace_id,
        [
            Notice(
                lead,
                NoticeKind.rewarmed,
                "{lead} came back after going cold",
                f"rewarmed:{enrollment}",
            )
            for enrollment, _s, lead in rewarmed
        ],
        now,
    )
    scope = Scope(session, workspace_id)
    for enrollment, sequence_id, lead_id in rewarmed:
        stage_id = sequences[sequence_id].rewarmed_stage_id
        if stage_id is None:
            continue
        lead, stage = scope.find(Lead, lead_id), scope.find(Stage, stage_id)
        if lead is None or stage is None:
            continue
        if move_lead(
            scope,
            lead,
            stage,
            source=ChangeSource.rule,
            now=now,
            detail=f"re-engaged: {sequences[sequence_id].name}",
        ):
            record(
                session,
                workspace_id,
                [Event(enrollment, EventKind.moved, now, None, f"to {stage.name}")],
            )


def _return_day(detail: Any, now: dt.datetime) -> dt.datetime:
    """The day after the stated return date (at 00:00 UTC: the send window then picks the
    hour), or DEFAULT_AWAY from now."""
    raw = detail.get("return_date") if isinstance(detail, dict) else None
    try:
        back = dt.date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        back = None
    if back is None:
        return now + DEFAULT_AWAY
    day = dt.datetime.combine(back + dt.timedelta(days=1), dt.time(0), dt.UTC)
    return max(day, now)


def sequence_exits(batch: Batch) -> None:
    if not batch.messages:
        return
    session, workspace_id, now = batch.session, batch.mailbox.workspace_id, batch.now
    found: list[tuple[int, ActivityKind, dt.datetime, Any]] = []
    for chunk in chunks(sorted({m.id for m in batch.messages})):
        found += (
            session.execute(
                select(
                    Activity.lead_id, Activity.kind, Activity.occurred_at, Activity.detail
                ).where(
                    Activity.workspace_id == workspace_id,
                    Activity.message_id.in_(chunk),
                    Activity.kind.in_((*ENDING, ActivityKind.auto_reply)),
                )
            )
            .tuples()
            .all()
        )
    found = [f for f in found if f[1] is not ActivityKind.bounce or _hard(f[3])]
    if not found:
        return
    leads = {f[0] for f in found}
    live = _live(session, workspace_id, Enrollment.lead_id.in_, leads)
    exits: list[Exit] = []
    for lead_id, kind, at, _detail in found:
        if kind is ActivityKind.auto_reply:
            continue
        exits += [
            Exit(e.id, ENDING[kind]) for e in live if e.lead_id == lead_id and e.enrolled_at <= at
        ]
    exits += _company_exits(session, workspace_id, found)
    ended = set(exit_enrollments(session, workspace_id, exits, now))
    away = [
        (lead, _return_day(detail, now))
        for lead, kind, _at, detail in found
        if kind is ActivityKind.auto_reply
    ]
    postpone(
        session,
        workspace_id,
        [
            (e, until)
            for lead, until in away
            for e in live
            if e.lead_id == lead and e.id not in ended and e.state is EnrollmentState.active
        ],
        now,
    )


def _hard(detail: Any) -> bool:
    return isinstance(detail, dict) and detail.get("type") == "hard"


@dataclass(frozen=True)
class Live:
    id: int
    lead_id: int | None
    sequence_id: int
    enrolled_at: dt.datetime
    state: EnrollmentState
    next_at: dt.datetime | None
    last_send_id: int | None


def _live(session: Session, workspace_id: int, where: Any, values: set[int]) -> list[Live]:
    rows: list[Live] = []
    for chunk in chunks(sorted(values)):
        rows += [
            Live(*row)
            for row in session.execute(
                select(
                    Enrollment.id,
                    Enrollment.lead_id,
                    Enrollment.sequence_id,
                    Enrollment.enrolled_at,
                    Enrollment.state,
                    Enrollment.next_at,
                    Enrollment.last_send_id,
                ).where(
                    Enrollment.workspace_id == workspace_id,
                    where(chunk),
                    Enrollment.ended_at.is_(None),
                )
            ).tuples()
        ]
    return rows


def _company_exits(
    session: Session, workspace_id: int, found: list[tuple[int, ActivityKind, dt.datetime, Any]]
) -> list[Exit]:
    """A reply from someone at a lead's company ends the lead's enrollments in sequences
    that say so."""
    replied = {lead: at for lead, kind, at, _ in found if kind is ActivityKind.reply}
    if not replied:
        return []
    companies: dict[int, dt.datetime] = {}
    for chunk in chunks(sorted(replied)):
        for lead_id, company_id in session.execute(
            select(Lead.id, Lead.company_id).where(Lead.id.in_(chunk), Lead.company_id.is_not(None))
        ).tuples():
            assert company_id is not None
            companies[company_id] = min(
                companies.get(company_id, replied[lead_id]), replied[lead_id]
            )
    if not companies:
        return []
    exits: list[Exit] = []
    for chunk in chunks(sorted(companies)):
        for enrollment_id, their_lead, company_id, enrolled_at in session.execute(
            select(Enrollment.id, Enrollment.lead_id, Lead.company_id, Enrollment.enrolled_at)
            .join(Lead, Lead.id == Enrollment.lead_id)
            .join(SequenceRow, SequenceRow.id == Enrollment.sequence_id)
            .where(
                Enrollment.workspace_id == workspace_id,
                Enrollment.ended_at.is_(None),
                Lead.company_id.in_(chunk),
                SequenceRow.exit_on_company_reply,
            )
        ).tuples():
            if (
                their_lead not in replied
                and company_id is not None
                and enrolled_at <= companies[company_id]
            ):
                exits.append(Exit(enrollment_id, ExitReason.company_replied))
    return exits


def postpone(
    session: Session, workspace_id: int, items: list[tuple[Live, dt.datetime]], now: dt.datetime
) -> None:
    """Hold these enrollments (and their planned sends) until the given times."""
    if not items:
        return
    rows, events = [], []
    for live, until in items:
        if live.next_at is not None and live.next_at >= until:
            continue
        rows.append({"row": live.id, "v_next": until})
        events.append(
            Event(
                live.id,
                EventKind.postponed,
                now,
                None,
                f"out of office: next step from {until.date().isoformat()}",
            )
        )
        if live.last_send_id is not None:
            session.execute(
                update(Send)
                .where(
                    Send.id == live.last_send_id,
                    Send.state == SendState.planned,
                    Send.due_at < until,
                )
                .values(due_at=until, planned_at=until),
                execution_options={"synchronize_session": False},
            )
    if rows:
        update_by_id(session, Enrollment, rows, {"next_at": "v_next"})
        record(session, workspace_id, events)


def left_sequence(due: Due) -> SkipReason | None:
    """A step's Send goes only while its enrollment is live and its lead has not answered
    since enrolling (a reply synced before the exit step ran counts too)."""
    send = due.send
    if send.source_kind is not SourceKind.step:
        return None
    try:
        enrollment_id = int(send.source_id.split(":", 1)[0])
    except ValueError:
        return SkipReason.exited
    row = due.session.execute(
        select(Enrollment.state, Enrollment.enrolled_at, Enrollment.lead_id).where(
            Enrollment.id == enrollment_id, Enrollment.workspace_id == send.workspace_id
        )
    ).first()
    if row is None or row.state is EnrollmentState.exited:
        return SkipReason.exited
    if row.lead_id is None:
        return SkipReason.lead_removed
    answered = due.session.scalar(
        select(Activity.id)
        .where(
            Activity.workspace_id == send.workspace_id,
            Activity.lead_id == row.lead_id,
            Activity.kind.in_(ANSWERS),
            Activity.occurred_at >= row.enrolled_at,
        )
        .limit(1)
    )
    return SkipReason.exited if answered is not None else None

"""Results per sequence and per step, and the re-engagement report.

A step's engagement is what the lead did between that step's email and the next email of
the same enrollment (or since, for the last): person opens and clicks (people counted
once), replies (with their threads), bounces and unsubscribes; rates are over the
emails sent."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from inboxcrm.db import chunks
from inboxcrm.leads.models import Activity, ActivityKind, Lead, Temperature
from inboxcrm.mail.models import Message
from inboxcrm.outbox.models import Send, SendState, SourceKind
from inboxcrm.scoring.models import TemperatureChange
from inboxcrm.sequences.models import (
    LIVE,
    Enrollment,
    EnrollmentState,
    Outcome,
)
from inboxcrm.sequences.models import (
    Sequence as SequenceRow,
)
from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.tenancy import Scope

MEASURED = (
    ActivityKind.open,
    ActivityKind.click,
    ActivityKind.reply,
    ActivityKind.bounce,
    ActivityKind.unsubscribe,
)
REPLY_LINKS = 20  # reply threads listed per step


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _sends(
    scope: Scope, step_ids: set[int]
) -> list[tuple[int, int, SendState, int | None, dt.datetime | None]]:
    """(enrollment, step, state, lead, sent_at) of the sequence's step sends."""
    found = []
    for source, state, lead, sent_at in scope.session.execute(
        select(Send.source_id, Send.state, Send.lead_id, Send.sent_at).where(
            Send.workspace_id == scope.workspace_id, Send.source_kind == SourceKind.step
        )
    ).tuples():
        enrollment, _, step = source.partition(":")
        if step.isdigit() and int(step) in step_ids and enrollment.isdigit():
            found.append((int(enrollment), int(step), state, lead, sent_at))
    return found


def results(scope: Scope, sequence: SequenceRow) -> dict[str, Any]:
    session = scope.session
    states: Counter[tuple[EnrollmentState, str | None]] = Counter()
    for state, reason, n in session.execute(
        select(Enrollment.state, Enrollment.exit_reason, func.count())
        .where(Enrollment.sequence_id == sequence.id)
        .group_by(Enrollment.state, Enrollment.exit_reason)
    ).tuples():
        states[(state, reason.value if reason else None)] += n
    sends = _sends(scope, {s.id for s in sequence.steps})
    windows = _windows(sends)
    leads = {lead for *_, lead, _at in sends if lead is not None}
    acts: dict[int, list[tuple[ActivityKind, dt.datetime, int | None]]] = defaultdict(list)
    for chunk in chunks(sorted(leads)):
        for lead, kind, at, message in session.execute(
            select(
                Activity.lead_id, Activity.kind, Activity.occurred_at, Activity.message_id
            ).where(Activity.lead_id.in_(chunk), Activity.kind.in_(MEASURED))
        ).tuples():
            acts[lead].append((kind, at, message))
    threads = _threads(scope, {m for rows in acts.values() for _, _, m in rows if m})
    steps = []
    for n, step in enumerate(sequence.steps, 1):
        mine = [s for s in sends if s[1] == step.id]
        sent = [s for s in mine if s[2] is SendState.sent]
        seen: dict[ActivityKind, set[int]] = defaultdict(set)
        reply_threads: list[int] = []
        for enrollment, _step, _state, who, sent_at in sent:
            if who is None or sent_at is None:
                continue
            until = windows.get((enrollment, sent_at))
            for kind, when, message in acts.get(who, []):
                if when >= sent_at and (until is None or when < until):
                    seen[kind].add(who)
                    if kind is ActivityKind.reply and message in threads:
                        reply_threads.append(threads[message])
        count = len(sent)
        figures = {k.value: len(seen[k]) for k in MEASURED}
        steps.append(
            {
                "id": step.id,
                "position": n,
                "kind": step.kind.value,
                "removed": step.removed_at is not None,
                "planned": len(mine),
                "sent": count,
                "skipped": sum(1 for s in mine if s[2] is SendState.skipped),
                "opened": figures["open"],
                "clicked": figures["click"],
                "replied": figures["reply"],
                "bounced": figures["bounce"],
                "unsubscribed": figures["unsubscribe"],
                "open_rate": _rate(figures["open"], count),
                "click_rate": _rate(figures["click"], count),
                "reply_rate": _rate(figures["reply"], count),
                "bounce_rate": _rate(figures["bounce"], count),
                "unsubscribe_rate": _rate(figures["unsubscribe"], count),
                "reply_threads": sorted(set(reply_threads))[:REPLY_LINKS],
            }
        )
    exited = Counter(
        {
            reason: n
            for (state, reason), n in states.items()
            if state is EnrollmentState.exited and reason
        }
    )
    return {
        "enrolled": sum(states.values()),
        "active": sum(n for (state, _), n in states.items() if state in LIVE),
        "finished": sum(n for (state, _), n in states.items() if state is EnrollmentState.finished),
        "exited": dict(sorted(exited.items())),
        "steps": steps,
    }


def _windows(
    sends: list[tuple[int, int, SendState, int | None, dt.datetime | None]],
) -> dict[tuple[int, dt.datetime], dt.datetime]:
    """Each sent email's end: the enrollment's next email sent."""
    by_enrollment: dict[int, list[dt.datetime]] = defaultdict(list)
    for enrollment, _step, state, _lead, at in sends:
        if state is SendState.sent and at is not None:
            by_enrollment[enrollment].append(at)
    ends = {}
    for enrollment, times in by_enrollment.items():
        times.sort()
        for a, b in itertools.pairwise(times):
            ends[(enrollment, a)] = b
    return ends


def _threads(scope: Scope, message_ids: set[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in chunks(sorted(message_ids)):
        found.update(
            (message, thread)
            for message, thread in scope.session.execute(
                select(Message.id, Message.thread_id).where(Message.id.in_(chunk))
            ).tuples()
        )
    return found


def reengagement_report(scope: Scope, since: dt.datetime) -> dict[str, Any]:
    """Since `since`: how many leads went cold, were re-engaged, came back (and what
    that came to in deals: the won deal value of those now in a won stage), or got no
    answer and moved on."""
    session = scope.session
    went_cold = (
        session.scalar(
            select(func.count(func.distinct(TemperatureChange.lead_id))).where(
                TemperatureChange.workspace_id == scope.workspace_id,
                TemperatureChange.to_temperature == Temperature.cold,
                TemperatureChange.changed_at >= since,
            )
        )
        or 0
    )
    rows = (
        session.execute(
            select(Enrollment.lead_id, Enrollment.outcome, Enrollment.state)
            .join(SequenceRow, SequenceRow.id == Enrollment.sequence_id)
            .where(
                Enrollment.workspace_id == scope.workspace_id,
                SequenceRow.reengagement,
                Enrollment.enrolled_at >= since,
            )
        )
        .tuples()
        .all()
    )
    back = {lead for lead, outcome, _ in rows if outcome is Outcome.rewarmed and lead}
    won = Decimal(0)
    won_count = 0
    for chunk in chunks(sorted(back)):
        count, value = session.execute(
            select(func.count(), func.coalesce(func.sum(Lead.deal_value), 0))
            .join(Stage, Stage.id == Lead.stage_id)
            .where(Lead.id.in_(chunk), Stage.kind == StageKind.won)
        ).one()
        won_count += int(count)
        won += Decimal(value)
    return {
        "since": since.isoformat(),
        "went_cold": went_cold,
        "reengaged": len(rows),
        "in_progress": sum(1 for _, _, state in rows if state in LIVE),
        "came_back": len(back),
        "no_response": sum(1 for _, outcome, _ in rows if outcome is Outcome.no_response),
        "won": won_count,
        "won_value": f"{won:.2f}",
    }

"""Advancing an enrollment (pure): from its step, what the facts and `now` say to do next.

An enrollment walks its sequence's live steps in order. A wait holds it until the wait
has passed, counted from when the previous email was sent (or from when it reached the
wait, when no email went); an email step is planned as one Send and the enrollment moves
past it; a task stops it until the owner is done. A condition on an email step looks at
the previous email only, so conditions cannot loop. Nothing here reads the clock or the
database: the job gathers the facts, asks `advance`, and writes what it answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from inboxcrm.sequences.models import Condition, StepKind, Threading, WaitUnit

# After planning an email, or while the previous email has not gone yet, look again this
# much later (the window may hold a send for a weekend: then from its due time).
SETTLE = dt.timedelta(minutes=10)
MAX_WAIT = dt.timedelta(days=365)
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class StepPlan:
    """A live step as planning sees it."""

    id: int
    kind: StepKind
    template_version_id: int | None = None
    threading: Threading = Threading.new
    condition: Condition | None = None
    wait_amount: int | None = None
    wait_unit: WaitUnit | None = None
    task: str = ""


@dataclass(frozen=True)
class LastEmail:
    """The enrollment's latest email step and what became of its Send."""

    step_id: int
    pending: bool  # planned, claimed or committed: not gone yet
    sent_at: dt.datetime | None  # None and not pending: skipped or failed
    due_at: dt.datetime | None = None
    opened: bool = False  # a person opened (or clicked) this email: its own tracking hits
    clicked: bool = False  # a person clicked a link of this email
    replied: bool = False  # the lead replied since it was sent (any thread, as exits read)


@dataclass(frozen=True)
class Facts:
    step_id: int | None  # the step to do next; None: past the last
    step_at: dt.datetime  # when the enrollment reached it
    last: LastEmail | None = None


@dataclass(frozen=True)
class Email:
    step: StepPlan
    follow_up: bool  # in the previous email's thread (it was sent)


@dataclass
class Advance:
    step_id: int | None  # the step it is at afterwards
    step_at: dt.datetime
    next_at: dt.datetime | None  # None: not on the queue (a task, or finished)
    email: Email | None = None
    task: StepPlan | None = None
    finished: bool = False
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (step id, why)
    waited: list[int] = field(default_factory=list)  # waits that passed


def add_wait(start: dt.datetime, amount: int, unit: WaitUnit, tz: ZoneInfo = UTC) -> dt.datetime:
    """`start` plus the wait; business days skip Saturdays and Sundays in `tz`."""
    if unit is WaitUnit.hours:
        return start + dt.timedelta(hours=amount)
    if unit is WaitUnit.days:
        return start + dt.timedelta(days=amount)
    local = start.astimezone(tz)
    left = amount
    while left > 0:
        local += dt.timedelta(days=1)
        if local.weekday() < 5:
            left -= 1
    return local.astimezone(dt.UTC)


def wait_length(amount: int | None, unit: WaitUnit | None) -> dt.timedelta | None:
    """The wait as a duration (business days as calendar days, for checking bounds)."""
    if amount is None or unit is None:
        return None
    if unit is WaitUnit.hours:
        return dt.timedelta(hours=amount)
    return dt.timedelta(days=amount)


def met(condition: Condition, last: LastEmail) -> bool:
    return {
        Condition.opened: last.opened,
        Condition.not_opened: not last.opened,
        Condition.clicked: last.clicked,
        Condition.not_clicked: not last.clicked,
        Condition.replied: last.replied,
        Condition.not_replied: not last.replied,
    }[condition]


def advance(
    facts: Facts, steps: tuple[StepPlan, ...], now: dt.datetime, tz: ZoneInfo = UTC
) -> Advance:
    """What to do for one due enrollment. `steps` are the sequence's live steps in
    order; a step id not among them (removed, and nothing came after) finishes it."""
    ids = [s.id for s in steps]
    if facts.step_id is None or facts.step_id not in ids:
        return Advance(None, now, None, finished=True)
    i = ids.index(facts.step_id)
    step_at = facts.step_at
    last = facts.last
    result = Advance(facts.step_id, step_at, None)

    def hold(step: StepPlan, at: dt.datetime | None) -> Advance:
        result.step_id, result.step_at, result.next_at = step.id, step_at, at
        return result

    def settling(step: StepPlan) -> Advance:
        assert last is not None
        return hold(step, max(now, last.due_at or now) + SETTLE)

    while i < len(steps):
        step = steps[i]
        if step.kind is StepKind.wait:
            if last is not None and last.pending:
                return settling(step)
            base = step_at
            if last is not None and last.sent_at is not None:
                base = max(base, last.sent_at)
            assert step.wait_amount is not None
            assert step.wait_unit is not None
            until = add_wait(base, step.wait_amount, step.wait_unit, tz)
            if until > now:
                return hold(step, until)
            result.waited.append(step.id)
            step_at = until
        elif step.kind is StepKind.task:
            result.task = step
            return hold(step, None)
        else:
            looks_back = step.condition is not None or step.threading is Threading.follow_up
            if looks_back and last is not None and last.pending:
                return settling(step)
            if step.condition is not None:
                if last is None or last.sent_at is None:
                    result.skipped.append((step.id, "no previous email was sent"))
                    i += 1
                    step_at = now
                    continue
                if not met(step.condition, last):
                    why = f"the condition ({step.condition.value.replace('_', ' ')}) was not met"
                    result.skipped.append((step.id, why))
                    i += 1
                    step_at = now
                    continue
            follow_up = (
                step.threading is Threading.follow_up
                and last is not None
                and last.sent_at is not None
            )
            result.email = Email(step, follow_up)
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            if nxt is None:
                result.step_id, result.step_at, result.next_at = None, now, None
                result.finished = True
                return result
            result.step_id, result.step_at, result.next_at = nxt.id, now, now + SETTLE
            return result
        i += 1
    result.step_id, result.step_at, result.next_at = None, now, None
    result.finished = True
    return result


def problems(steps: list[StepPlan]) -> list[str]:
    """What is wrong with a sequence's steps, for the one who edits them (empty: fine)."""
    found: list[str] = []
    if not steps:
        return ["a sequence needs at least one step"]
    if not any(s.kind is StepKind.email for s in steps):
        found.append("a sequence needs at least one email step")
    seen_email = False
    for n, step in enumerate(steps, 1):
        if step.kind is StepKind.email:
            if step.template_version_id is None:
                found.append(f"step {n}: an email step needs a template")
            if not seen_email and step.threading is Threading.follow_up:
                found.append(f"step {n}: the first email cannot follow up a previous one")
            if not seen_email and step.condition is not None:
                found.append(f"step {n}: a condition needs a previous email to look at")
            seen_email = True
        elif step.kind is StepKind.wait:
            length = wait_length(step.wait_amount, step.wait_unit)
            if length is None or length <= dt.timedelta(0):
                found.append(f"step {n}: a wait must be longer than zero")
            elif length > MAX_WAIT:
                found.append(f"step {n}: a wait can be at most a year")
        elif not (step.task or "").strip():
            found.append(f"step {n}: a task needs its text")
    return found

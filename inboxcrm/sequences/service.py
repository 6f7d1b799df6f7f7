"""Sequences and enrollments as members change them: create and edit a sequence (its
steps checked, live enrollments carried to the equivalent step), enroll leads (who would
be and who not, and why, first), unenroll, pause and resume, finish a task. Services
flush; callers commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from inboxcrm.accounts.models import Mailbox, MailboxStatus, Member
from inboxcrm.accounts.permissions import Action, Managed, require, require_manager
from inboxcrm.campaigns.models import EmailTemplate, TemplateVersion
from inboxcrm.db import chunks, conflict_insert
from inboxcrm.errors import Conflict, Invalid, NotFound
from inboxcrm.leads.models import Activity, Lead
from inboxcrm.outbox.models import Send, SendState
from inboxcrm.outbox.suppression import suppressed
from inboxcrm.outbox.windows import Window
from inboxcrm.scoring.models import TemperatureChange
from inboxcrm.segments.models import Segment
from inboxcrm.sequences.history import Event, record
from inboxcrm.sequences.models import (
    LIVE,
    Condition,
    Enrollment,
    EnrollmentState,
    EventKind,
    ExitReason,
    OnTemplateError,
    Refusal,
    SequenceState,
    Step,
    StepKind,
    Task,
    Threading,
    Trigger,
    TriggerKind,
    WaitUnit,
)
from inboxcrm.sequences.models import (
    Sequence as SequenceRow,
)
from inboxcrm.sequences.plan import StepPlan, problems
from inboxcrm.stages.models import Stage, StageChange, StageKind
from inboxcrm.tenancy import Scope, unique_name

MAX_NAME = 120
DEFAULT_EXIT_KINDS = [StageKind.won.value, StageKind.lost.value, StageKind.unqualified.value]
NO_MARKETING = frozenset({StageKind.lost, StageKind.unqualified})
RESUME_SPREAD = dt.timedelta(hours=8)  # steps due during a pause go out over this much


def plan_of(step: Step) -> StepPlan:
    return StepPlan(
        step.id,
        step.kind,
        step.template_version_id,
        step.threading,
        step.condition,
        step.wait_amount,
        step.wait_unit,
        step.task or "",
    )


def _enum(kind: type[Any], value: Any, where: str) -> Any:
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(k.value for k in kind)
        raise Invalid(f"{where}: {value!r} is not one of {names}") from None


def _int(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(f"{where}: a whole number, please")
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{where}: a whole number, please") from None


def _version_of(scope: Scope, spec: Mapping[str, Any], where: str) -> int | None:
    """A step's template: its `template_version_id`, or a template's current version."""
    if (version_id := _int(spec.get("template_version_id"), where)) is not None:
        if scope.find(TemplateVersion, version_id) is None:
            raise Invalid(f"{where}: no such template version")
        return version_id
    if (template_id := _int(spec.get("template_id"), where)) is not None:
        template = scope.find(EmailTemplate, template_id)
        if template is None:
            raise Invalid(f"{where}: no such template")
        return template.current.id
    return None


@dataclass(frozen=True)
class StepSpec:
    id: int | None
    kind: StepKind
    template_version_id: int | None
    threading: Threading
    condition: Condition | None
    wait_amount: int | None
    wait_unit: WaitUnit | None
    task: str | None


def parse_steps(scope: Scope, raw: Any) -> list[StepSpec]:
    """The steps as given (a list of objects), checked; Invalid says what to fix."""
    if not isinstance(raw, list):
        raise Invalid("steps: a list of steps, please")
    specs: list[StepSpec] = []
    for n, item in enumerate(raw, 1):
        where = f"step {n}"
        if not isinstance(item, Mapping):
            raise Invalid(f"{where}: an object with a kind, please")
        kind = _enum(StepKind, item.get("kind"), where)
        if kind is None:
            raise Invalid(f"{where}: a kind (email, wait or task), please")
        task = str(item.get("task") or "").strip() or None
        if task is not None and (len(task) > 300 or any(c in task for c in "\r\n")):
            raise Invalid(f"{where}: a task is one line of at most 300 characters")
        specs.append(
            StepSpec(
                _int(item.get("id"), where),
                kind,
                _version_of(scope, item, where) if kind is StepKind.email else None,
                _enum(Threading, item.get("threading"), where) or Threading.new,
                _enum(Condition, item.get("condition"), where) if kind is StepKind.email else None,
                _int(item.get("wait_amount"), where) if kind is StepKind.wait else None,
                _enum(WaitUnit, item.get("wait_unit"), where) if kind is StepKind.wait else None,
                task if kind is StepKind.task else None,
            )
        )
    found = problems(
        [
            StepPlan(
                0,
                s.kind,
                s.template_version_id,
                s.threading,
                s.condition,
                s.wait_amount,
                s.wait_unit,
                s.task or "",
            )
            for s in specs
        ]
    )
    if found:
        raise Invalid("the steps cannot be saved: " + "; ".join(found), {"steps": "; ".join(found)})
    return specs


def _settings(scope: Scope, sequence: SequenceRow, raw: Mapping[str, Any]) -> None:
    if "mailbox_id" in raw:
        mailbox_id = _int(raw["mailbox_id"], "mailbox")
        if mailbox_id is not None and scope.find(Mailbox, mailbox_id) is None:
            raise Invalid("mailbox: no such mailbox")
        sequence.mailbox_id = mailbox_id
    if "window" in raw:
        try:
            window = Window.from_json(raw["window"]) if raw["window"] else None
        except (ValueError, TypeError) as exc:
            raise Invalid(f"window: {exc}") from None
        sequence.window = window.to_json() if window is not None else None
    if "exit_on_company_reply" in raw:
        sequence.exit_on_company_reply = bool(raw["exit_on_company_reply"])
    if "exit_stage_kinds" in raw:
        kinds = raw["exit_stage_kinds"]
        if not isinstance(kinds, list):
            raise Invalid("exit_stage_kinds: a list of stage kinds, please")
        sequence.exit_stage_kinds = [_enum(StageKind, k, "exit_stage_kinds").value for k in kinds]
    if "exclusive" in raw:
        sequence.exclusive = bool(raw["exclusive"])
    if "reenroll_after_days" in raw:
        days = _int(raw["reenroll_after_days"], "reenroll_after_days")
        if days is not None and not 0 <= days <= 3650:
            raise Invalid("reenroll_after_days: from 0 to 3650, or none for never")
        sequence.reenroll_after_days = days
    if "on_template_error" in raw:
        choice = _enum(OnTemplateError, raw["on_template_error"], "on_template_error")
        sequence.on_template_error = choice or OnTemplateError.skip
    for key in ("rewarmed_stage_id", "no_response_stage_id"):
        if key in raw:
            stage_id = _int(raw[key], key)
            if stage_id is not None and scope.find(Stage, stage_id) is None:
                raise Invalid(f"{key}: no such stage")
            setattr(sequence, key, stage_id)


def create_sequence(
    scope: Scope,
    actor: Member | None,
    name: str,
    steps: Any,
    now: dt.datetime,
    settings: Mapping[str, Any] | None = None,
    *,
    reengagement: bool = False,
) -> SequenceRow:
    """A new sequence (marketers and admins; None: the workspace itself, for defaults)."""
    if actor is not None:
        require_manager(actor, Managed.sequences)
    specs = parse_steps(scope, steps)
    sequence = SequenceRow(
        workspace_id=scope.workspace_id,
        name=unique_name(scope, SequenceRow, name, None, "sequence", MAX_NAME),
        state=SequenceState.active,
        exit_stage_kinds=list(DEFAULT_EXIT_KINDS),
        reengagement=reengagement,
        created_by_id=actor.id if actor is not None else None,
        created_at=now,
        updated_at=now,
    )
    _settings(scope, sequence, settings or {})
    scope.session.add(sequence)
    for position, spec in enumerate(specs):
        sequence.steps.append(_step(scope, spec, position))
    scope.session.flush()
    return sequence


def _step(scope: Scope, spec: StepSpec, position: int) -> Step:
    return Step(
        workspace_id=scope.workspace_id,
        position=position,
        kind=spec.kind,
        template_version_id=spec.template_version_id,
        threading=spec.threading,
        condition=spec.condition,
        wait_amount=spec.wait_amount,
        wait_unit=spec.wait_unit,
        task=spec.task,
    )


def update_sequence(
    scope: Scope,
    actor: Member,
    sequence: SequenceRow,
    now: dt.datetime,
    *,
    name: str | None = None,
    steps: Any = None,
    settings: Mapping[str, Any] | None = None,
) -> SequenceRow:
    """Change a sequence, live or not. Steps keep their ids where given: enrollees at a
    kept step stay there; at a removed step they move to the next step that is kept (or
    finish), so a removed step is never sent and a kept one is never sent again."""
    require_manager(actor, Managed.sequences)
    if name is not None:
        sequence.name = unique_name(scope, SequenceRow, name, sequence, "sequence", MAX_NAME)
    _settings(scope, sequence, settings or {})
    if steps is not None:
        _replace_steps(scope, sequence, parse_steps(scope, steps), now)
    sequence.updated_at = now
    scope.session.flush()
    return sequence


def _replace_steps(
    scope: Scope, sequence: SequenceRow, specs: list[StepSpec], now: dt.datetime
) -> None:
    old = sequence.live_steps
    by_id = {s.id: s for s in old}
    for spec in specs:
        if spec.id is not None and spec.id not in by_id:
            raise Invalid(f"step {spec.id} is not a live step of this sequence")
    kept_ids = {spec.id for spec in specs if spec.id is not None}
    offset = max((s.position for s in sequence.steps), default=-1) + 1
    for position, spec in enumerate(specs):
        if spec.id is None:
            sequence.steps.append(_step(scope, spec, offset + position))
            continue
        step = by_id[spec.id]
        step.position = offset + position
        step.kind, step.template_version_id = spec.kind, spec.template_version_id
        step.threading, step.condition = spec.threading, spec.condition
        step.wait_amount, step.wait_unit, step.task = spec.wait_amount, spec.wait_unit, spec.task
    scope.session.flush()
    # Where an enrollee at a removed step goes: the next old step that is kept.
    moves: dict[int, int | None] = {}
    for i, step in enumerate(old):
        if step.id in kept_ids:
            continue
        step.removed_at = now
        after = next((s.id for s in old[i + 1 :] if s.id in kept_ids), None)
        moves[step.id] = after
    for removed, after in moves.items():
        scope.session.execute(
            update(Enrollment)
            .where(Enrollment.step_id == removed, Enrollment.ended_at.is_(None))
            .values(step_id=after, step_at=now),
            execution_options={"synchronize_session": False},
        )
    sequence.steps.sort(key=lambda s: s.position)
    scope.session.flush()


# Enrolling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    lead_id: int
    name: str
    reason: str | None  # None: would be enrolled


def _leads(scope: Scope, lead_ids: Iterable[int]) -> dict[int, Lead]:
    found: dict[int, Lead] = {}
    for chunk in chunks(sorted(set(lead_ids))):
        found.update(
            (lead.id, lead)
            for lead in scope.session.scalars(scope.select(Lead, Lead.id.in_(chunk))).unique()
        )
    return found


def sender_of(
    scope: Scope, sequence: SequenceRow, owner_ids: Iterable[int | None]
) -> dict[int | None, int | None]:
    """The mailbox each owner's leads are sent from: the sequence's own, else the owner's
    connected one (None: there is none to send from)."""
    if sequence.mailbox_id is not None:
        return {owner: sequence.mailbox_id for owner in owner_ids}
    wanted = {o for o in owner_ids if o is not None}
    found: dict[int | None, int | None] = {o: None for o in owner_ids}
    for member_id, mailbox_id in scope.session.execute(
        select(Mailbox.member_id, func.min(Mailbox.id))
        .where(
            Mailbox.workspace_id == scope.workspace_id,
            Mailbox.member_id.in_(wanted),
            Mailbox.status == MailboxStatus.connected,
        )
        .group_by(Mailbox.member_id)
    ).tuples():
        found[member_id] = mailbox_id
    return found


def preview(
    scope: Scope,
    sequence: SequenceRow,
    lead_ids: Iterable[int],
    now: dt.datetime,
    *,
    need_sender: bool = True,
) -> list[Verdict]:
    """Who would be enrolled and who not, and why: a few queries for any number of leads."""
    wanted = list(dict.fromkeys(lead_ids))
    leads = _leads(scope, wanted)
    session = scope.session
    live_here: set[int] = set()
    live_elsewhere: dict[int, str] = {}
    ended_here: dict[int, dt.datetime] = {}
    for chunk in chunks(sorted(leads)):
        for lead_id, sequence_id, name, exclusive, ended in session.execute(
            select(
                Enrollment.lead_id,
                Enrollment.sequence_id,
                SequenceRow.name,
                SequenceRow.exclusive,
                Enrollment.ended_at,
            )
            .join(SequenceRow, SequenceRow.id == Enrollment.sequence_id)
            .where(Enrollment.workspace_id == scope.workspace_id, Enrollment.lead_id.in_(chunk))
        ).tuples():
            if lead_id is None:
                continue
            if sequence_id == sequence.id:
                if ended is None:
                    live_here.add(lead_id)
                elif lead_id not in ended_here or ended > ended_here[lead_id]:
                    ended_here[lead_id] = ended
            elif ended is None and (sequence.reengagement or (exclusive and sequence.exclusive)):
                live_elsewhere[lead_id] = name
    blocked = suppressed(scope.session, scope.workspace_id, [lead.email for lead in leads.values()])
    senders = sender_of(scope, sequence, {lead.owner_id for lead in leads.values()})
    exit_kinds = set(sequence.exit_stage_kinds)
    verdicts: list[Verdict] = []
    for lead_id in wanted:
        lead = leads.get(lead_id)
        if lead is None:
            verdicts.append(Verdict(lead_id, "", "no such lead"))
            continue
        reason: str | None = None
        if lead_id in live_here:
            reason = "already in this sequence"
        elif lead.email in blocked:
            reason = f"suppressed ({blocked[lead.email].reason.value.replace('_', ' ')})"
        elif lead.stage.kind in NO_MARKETING or lead.stage.kind.value in exit_kinds:
            reason = f"in the stage {lead.stage.name}"
        elif lead_id in live_elsewhere:
            reason = f"in another sequence: {live_elsewhere[lead_id]}"
        elif lead_id in ended_here:
            days = sequence.reenroll_after_days
            again = ended_here[lead_id] + dt.timedelta(days=days) if days is not None else None
            if again is None:
                reason = "already went through this sequence"
            elif again > now:
                reason = f"went through this sequence; again from {again.date().isoformat()}"
        if reason is None and need_sender and senders.get(lead.owner_id) is None:
            reason = "no connected Gmail to send from (its owner has none)"
        verdicts.append(Verdict(lead_id, lead.name or lead.email, reason))
    return verdicts


@dataclass(frozen=True)
class Enrolled:
    enrolled: list[int]  # enrollment ids
    refused: list[Verdict]


def enroll(
    scope: Scope,
    sequence: SequenceRow,
    lead_ids: Iterable[int],
    now: dt.datetime,
    *,
    by: str,
    member: Member | None = None,
    need_sender: bool = True,
    keep_refused: bool = False,
) -> Enrolled:
    """Enroll the leads the preview lets in. A member enrolls only leads they may edit
    (a rep: their own and unowned ones) in any sequence of the workspace. Two enrollers
    at once enroll a lead once: the live enrollment is unique per sequence and lead.
    With `keep_refused` (the triggers, which nobody watches), why the others were not
    enrolled is kept for their pages (`Refusal`); enrolling a lead clears its refusal."""
    lead_ids = list(lead_ids)
    if member is not None:
        for lead in _leads(scope, lead_ids).values():
            require(member, Action.edit, lead.owner_id, lead.name or lead.email)
    verdicts = preview(scope, sequence, lead_ids, now, need_sender=need_sender)
    ok = [v.lead_id for v in verdicts if v.reason is None]
    refused = [v for v in verdicts if v.reason is not None]
    if keep_refused:
        _keep_refusals(scope, sequence, refused, by, now)
    if not ok:
        return Enrolled([], refused)
    for some in chunks(ok):
        scope.session.execute(
            delete(Refusal).where(Refusal.sequence_id == sequence.id, Refusal.lead_id.in_(some))
        )
    paused = sequence.state is SequenceState.paused
    first = sequence.live_steps[0].id if sequence.live_steps else None
    rows = [
        {
            "workspace_id": scope.workspace_id,
            "sequence_id": sequence.id,
            "lead_id": lead_id,
            "live_lead_id": lead_id,
            "state": (EnrollmentState.paused if paused else EnrollmentState.active).value,
            "step_id": first,
            "step_at": now,
            "next_at": None if paused else now,
            "enrolled_at": now,
            "enrolled_by": by[:200],
            "member_id": member.id if member is not None else None,
        }
        for lead_id in ok
    ]
    insert = conflict_insert(scope.session, Enrollment)
    made: list[int] = []
    for chunk in chunks(rows):
        made += scope.session.scalars(
            insert.on_conflict_do_nothing(index_elements=["sequence_id", "live_lead_id"]).returning(
                insert.table.c.id
            ),
            chunk,
        ).all()
    record(
        scope.session,
        scope.workspace_id,
        [Event(e, EventKind.enrolled, now, None, f"by {by}") for e in made],
    )
    return Enrolled(made, refused)


# Changing enrollments ---------------------------------------------------------------------


# Not worth keeping: the lead is where the trigger wanted it, or gone.
_NOT_KEPT = ("already in this sequence", "no such lead")


def _keep_refusals(
    scope: Scope, sequence: SequenceRow, refused: list[Verdict], by: str, now: dt.datetime
) -> None:
    """One row a lead, rewritten only when the reason changed: a state trigger refusing
    the same lead each round writes nothing, and `since` says how long it has been."""
    rows = [
        {
            "workspace_id": scope.workspace_id,
            "sequence_id": sequence.id,
            "lead_id": v.lead_id,
            "reason": (v.reason or "")[:300],
            "by": by[:200],
            "since": now,
        }
        for v in refused
        if v.reason not in _NOT_KEPT
    ]
    if not rows:
        return
    insert = conflict_insert(scope.session, Refusal)
    upsert = insert.on_conflict_do_update(
        index_elements=["sequence_id", "lead_id"],
        set_={"reason": insert.excluded.reason, "by": insert.excluded.by, "since": now},
        where=insert.table.c.reason != insert.excluded.reason,
    )
    for chunk in chunks(rows):
        scope.session.execute(upsert, chunk)


def unenroll(scope: Scope, enrollment: Enrollment, actor: Member, now: dt.datetime) -> None:
    from inboxcrm.sequences.exits import Exit, exit_enrollments

    lead = scope.find(Lead, enrollment.lead_id) if enrollment.lead_id is not None else None
    if lead is not None:
        require(actor, Action.edit, lead.owner_id, lead.name or lead.email)
    if enrollment.ended_at is not None:
        raise Conflict("this enrollment has ended already")
    exit_enrollments(
        scope.session,
        scope.workspace_id,
        [Exit(enrollment.id, ExitReason.manual, f"by {actor.name or actor.email}")],
        now,
    )
    scope.session.expire(enrollment)


def pause(scope: Scope, actor: Member, sequence: SequenceRow, now: dt.datetime) -> int:
    """Nothing of the sequence advances or is sent while it is paused: its live enrollments
    are paused, and their sends not yet taken by a dispatcher are held (off the queue)."""
    require_manager(actor, Managed.sequences)
    if sequence.state is SequenceState.paused:
        return 0
    sequence.state = SequenceState.paused
    session = scope.session
    ids = list(
        session.scalars(
            select(Enrollment.id).where(
                Enrollment.sequence_id == sequence.id, Enrollment.state == EnrollmentState.active
            )
        )
    )
    for chunk in chunks(ids):
        session.execute(
            update(Enrollment).where(Enrollment.id.in_(chunk)).values(state=EnrollmentState.paused),
            execution_options={"synchronize_session": False},
        )
        held = select(Enrollment.last_send_id).where(Enrollment.id.in_(chunk))
        session.execute(
            update(Send)
            .where(Send.id.in_(held), Send.state == SendState.planned)
            .values(due_at=None),
            execution_options={"synchronize_session": False},
        )
    record(session, scope.workspace_id, [Event(e, EventKind.paused, now) for e in ids])
    session.flush()
    return len(ids)


def resume(scope: Scope, actor: Member, sequence: SequenceRow, now: dt.datetime) -> int:
    """Go on without a burst: what fell due during the pause is spread evenly over the
    next RESUME_SPREAD (and the outbox keeps each send inside its window and its mailbox's
    gaps); held sends are planned anew from then, so none is stale for the pause."""
    require_manager(actor, Managed.sequences)
    if sequence.state is SequenceState.active:
        return 0
    sequence.state = SequenceState.active
    session = scope.session
    rows = (
        session.execute(
            select(Enrollment.id, Enrollment.last_send_id)
            .where(
                Enrollment.sequence_id == sequence.id, Enrollment.state == EnrollmentState.paused
            )
            .order_by(Enrollment.step_at, Enrollment.id)
        )
        .tuples()
        .all()
    )
    if not rows:
        return 0
    held = {
        send_id
        for (send_id,) in session.execute(
            select(Send.id).where(
                Send.id.in_([s for _, s in rows if s is not None]),
                Send.state == SendState.planned,
                Send.due_at.is_(None),
            )
        ).tuples()
    }
    gap = RESUME_SPREAD / max(1, len(rows))
    for n, (enrollment_id, send_id) in enumerate(rows):
        at = now + gap * n
        session.execute(
            update(Enrollment)
            .where(Enrollment.id == enrollment_id)
            .values(state=EnrollmentState.active, next_at=at),
            execution_options={"synchronize_session": False},
        )
        if send_id in held:
            session.execute(
                update(Send).where(Send.id == send_id).values(due_at=at, planned_at=at),
                execution_options={"synchronize_session": False},
            )
    record(session, scope.workspace_id, [Event(e, EventKind.resumed, now) for e, _ in rows])
    session.flush()
    return len(rows)


def finish_task(
    scope: Scope, actor: Member, task_id: int, now: dt.datetime, *, skipped: bool = False
) -> Task:
    """The owner did (or skipped) the task: the enrollment goes on with the next step."""
    task = scope.find(Task, task_id)
    if task is None:
        raise NotFound("no such task")
    lead = scope.find(Lead, task.lead_id) if task.lead_id is not None else None
    if lead is not None:
        require(actor, Action.edit, lead.owner_id, lead.name or lead.email)
    if task.done_at is not None:
        return task
    task.done_at, task.skipped = now, skipped
    enrollment = scope.session.get_one(Enrollment, task.enrollment_id)
    if enrollment.state is EnrollmentState.task and enrollment.step_id == task.step_id:
        sequence = scope.session.get_one(SequenceRow, enrollment.sequence_id)
        steps = sequence.live_steps
        ids = [s.id for s in steps]
        after = ids[ids.index(task.step_id) + 1] if task.step_id in ids[:-1] else None
        enrollment.step_id, enrollment.step_at = after, now
        paused = sequence.state is SequenceState.paused
        enrollment.state = EnrollmentState.paused if paused else EnrollmentState.active
        enrollment.next_at = None if paused else now
    detail = f"{'skipped' if skipped else 'done'} by {actor.name or actor.email}"
    record(
        scope.session,
        scope.workspace_id,
        [Event(task.enrollment_id, EventKind.task_done, now, task.step_id, detail)],
    )
    scope.session.flush()
    return task


def live_enrollments(scope: Scope, lead_id: int) -> Sequence[Enrollment]:
    return scope.session.scalars(
        scope.select(Enrollment, Enrollment.lead_id == lead_id, Enrollment.state.in_(LIVE))
    ).all()


def add_trigger(
    scope: Scope, sequence: SequenceRow, kind: TriggerKind, raw: Mapping[str, Any], now: dt.datetime
) -> Trigger:
    """A trigger that enrolls on its own from now on: event triggers start past the rows
    that exist already (history enrolls nobody)."""
    trigger = Trigger(
        workspace_id=scope.workspace_id, sequence_id=sequence.id, kind=kind, created_at=now
    )
    if kind is TriggerKind.stage:
        stage_id = _int(raw.get("stage_id"), "stage_id")
        if stage_id is None or scope.find(Stage, stage_id) is None:
            raise Invalid("stage_id: a stage of the workspace, please")
        trigger.stage_id = stage_id
        trigger.cursor = scope.session.scalar(select(func.max(StageChange.id))) or 0
    elif kind is TriggerKind.segment:
        segment_id = _int(raw.get("segment_id"), "segment_id")
        if segment_id is None or scope.find(Segment, segment_id) is None:
            raise Invalid("segment_id: a segment of the workspace, please")
        trigger.segment_id = segment_id
    elif kind is TriggerKind.score:
        score = _int(raw.get("score"), "score")
        if score is None or not 1 <= score <= 10_000:
            raise Invalid("score: a line from 1 to 10,000, please")
        trigger.score = score
    elif kind is TriggerKind.cold:
        trigger.cursor = scope.session.scalar(select(func.max(TemperatureChange.id))) or 0
    else:
        trigger.cursor = scope.session.scalar(select(func.max(Activity.id))) or 0
    scope.session.add(trigger)
    scope.session.flush()
    return trigger

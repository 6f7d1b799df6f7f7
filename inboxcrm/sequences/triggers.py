"""Enrolling on its own, and what the clock reads since its last look.

Each tick, per workspace:

- the re-engagement policy exists (made on first sight: on, with the default sequence
  `DEFAULT_REENGAGEMENT`, ending in Nurture for no response);
- temperature changes since the policy's cursor: a lead turned cold (and still cold, not
  lost, unqualified, suppressed or in any sequence) is enrolled in the re-engagement
  sequence; a re-engaged lead warmed up again leaves it, re-warmed;
- stage changes since the cursor: a lead moved to a stage kind its sequence exits on
  (won, lost, unqualified by default) leaves it;
- each trigger: event triggers (enters a stage, turns cold, new inbound lead) read their
  table past their own cursor; state triggers (in a segment, score at or above a line)
  ask who is in now, leaving out who is in the sequence or went through it and may not
  come again yet (the sequence's re-enroll setting), a page of leads a tick: their
  cursor is the last lead looked at, back to the start after the last page, so leads
  refused for a while (suppressed, in another sequence) hold up nobody behind them.
  The preview says why a lead is refused; a segment whose filter no longer compiles
  enrolls nobody and stops no other trigger.

Cursors move in the same transaction as the enrollments, so a tick run twice enrolls
nobody twice (and the unique live enrollment holds against two triggers at once)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Workspace
from inboxcrm.campaigns.models import EmailTemplate, TemplateVersion
from inboxcrm.db import Database, chunks
from inboxcrm.leads.models import Activity, ActivityKind, Lead, Temperature
from inboxcrm.runtime import Runtime
from inboxcrm.scoring.models import TemperatureChange
from inboxcrm.segments.filters import FilterProblem, parse
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import compiler
from inboxcrm.sequences.exits import Exit, exit_enrollments
from inboxcrm.sequences.models import (
    Enrollment,
    ExitReason,
    Reengagement,
    SequenceState,
    Trigger,
    TriggerKind,
)
from inboxcrm.sequences.models import (
    Sequence as SequenceRow,
)
from inboxcrm.sequences.service import create_sequence, enroll
from inboxcrm.stages.models import Stage, StageChange, StageKind
from inboxcrm.tenancy import Scope

STEP = 2000  # rows read past a cursor per tick and trigger
STATE_LIMIT = 2000  # leads a state trigger enrolls per tick

# (name, subject, body) of the default re-engagement emails; waits between them.
DEFAULT_EMAILS = (
    (
        "Re-engagement 1: checking in",
        'Still on your list, {{ lead.first_name | default("there") }}?',
        'Hi {{ lead.first_name | default("there") }},\n\nWe last spoke a while ago. Is '
        "this still something you are looking at? A one-line answer is plenty.\n\n"
        '{{ sender.name | default("") }}',
    ),
    (
        "Re-engagement 2: something new",
        'Still on your list, {{ lead.first_name | default("there") }}?',
        "Hi again,\n\nIn case it got buried: happy to send a short summary of what changed "
        "since we last talked, or to pick a time that suits you.\n\n"
        '{{ sender.name | default("") }}',
    ),
    (
        "Re-engagement 3: closing the loop",
        "Should I close your file?",
        'Hi {{ lead.first_name | default("there") }},\n\nI have not heard back, so I will '
        "stop writing for now. If the timing is better later, just reply to this email.\n\n"
        '{{ sender.name | default("") }}',
    ),
)
DEFAULT_NAME = "Re-engagement of cold leads"


def default_steps(version_ids: list[int]) -> list[dict[str, object]]:
    first, second, third = version_ids
    return [
        {"kind": "email", "template_version_id": first},
        {"kind": "wait", "wait_amount": 4, "wait_unit": "business_days"},
        {"kind": "email", "template_version_id": second, "threading": "follow_up"},
        {"kind": "wait", "wait_amount": 7, "wait_unit": "days"},
        {"kind": "email", "template_version_id": third},
        {"kind": "wait", "wait_amount": 7, "wait_unit": "days"},
    ]


def triggers_due(runtime: Runtime, now: dt.datetime) -> int:
    return run_triggers(runtime.database, now)


def run_triggers(database: Database, now: dt.datetime, limit: int = STATE_LIMIT) -> int:
    """One look per workspace (state triggers at `limit` leads each); returns how many
    leads were enrolled."""
    with database.session() as session:
        workspaces = list(session.scalars(select(Workspace.id).order_by(Workspace.id)))
    enrolled = 0
    for workspace_id in workspaces:
        with database.session() as session:
            enrolled += run_workspace(session, workspace_id, now, limit)
    return enrolled


def run_workspace(
    session: Session, workspace_id: int, now: dt.datetime, limit: int = STATE_LIMIT
) -> int:
    scope = Scope(session, workspace_id)
    policy = policy_of(scope, now)
    enrolled = _temperatures(scope, policy, now)
    _stage_exits(scope, policy)
    for trigger in session.scalars(
        select(Trigger)
        .join(SequenceRow, SequenceRow.id == Trigger.sequence_id)
        .where(Trigger.workspace_id == workspace_id)
        .order_by(Trigger.id)
    ):
        enrolled += _run(scope, trigger, now, limit)
    session.flush()
    return enrolled


def policy_of(scope: Scope, now: dt.datetime) -> Reengagement:
    """The workspace's policy, made with its default sequence the first time."""
    found = scope.session.scalar(
        select(Reengagement).where(Reengagement.workspace_id == scope.workspace_id)
    )
    if found is not None:
        return found
    versions: list[int] = []
    for name, subject, body in DEFAULT_EMAILS:
        template = scope.session.scalar(
            select(EmailTemplate).where(
                EmailTemplate.workspace_id == scope.workspace_id, EmailTemplate.name == name
            )
        )
        if template is None:
            template = EmailTemplate(
                workspace_id=scope.workspace_id, name=name, created_at=now, updated_at=now
            )
            template.versions.append(
                TemplateVersion(
                    workspace_id=scope.workspace_id,
                    number=1,
                    subject=subject,
                    body=body,
                    created_at=now,
                )
            )
            scope.session.add(template)
            scope.session.flush()
        versions.append(template.current.id)
    nurture = scope.session.scalar(
        select(Stage.id)
        .where(Stage.workspace_id == scope.workspace_id, Stage.kind == StageKind.nurture)
        .order_by(Stage.position)
    )
    sequence = scope.session.scalar(
        select(SequenceRow).where(
            SequenceRow.workspace_id == scope.workspace_id, SequenceRow.name == DEFAULT_NAME
        )
    )
    if sequence is None:
        sequence = create_sequence(
            scope,
            None,
            DEFAULT_NAME,
            default_steps(versions),
            now,
            {"no_response_stage_id": nurture},
            reengagement=True,
        )
    policy = Reengagement(workspace_id=scope.workspace_id, enabled=True, sequence_id=sequence.id)
    # Only what happens from now on: a workspace's old history re-engages nobody.
    policy.cursor = scope.session.scalar(select(func.max(TemperatureChange.id))) or 0
    policy.stages_cursor = scope.session.scalar(select(func.max(StageChange.id))) or 0
    scope.session.add(policy)
    scope.session.flush()
    return policy


def _temperatures(scope: Scope, policy: Reengagement, now: dt.datetime) -> int:
    rows = (
        scope.session.execute(
            select(
                TemperatureChange.id, TemperatureChange.lead_id, TemperatureChange.to_temperature
            )
            .where(
                TemperatureChange.workspace_id == scope.workspace_id,
                TemperatureChange.id > policy.cursor,
            )
            .order_by(TemperatureChange.id)
            .limit(STEP)
        )
        .tuples()
        .all()
    )
    if not rows:
        return 0
    policy.cursor = rows[-1][0]
    warmed = {lead for _, lead, to in rows if to in (Temperature.warm, Temperature.hot)}
    if warmed:
        live = (
            scope.session.execute(
                select(Enrollment.id)
                .join(SequenceRow, SequenceRow.id == Enrollment.sequence_id)
                .where(
                    Enrollment.workspace_id == scope.workspace_id,
                    Enrollment.lead_id.in_(warmed),
                    Enrollment.ended_at.is_(None),
                    SequenceRow.reengagement,
                )
            )
            .scalars()
            .all()
        )
        exit_enrollments(
            scope.session,
            scope.workspace_id,
            [Exit(e, ExitReason.rewarmed, "temperature back up") for e in live],
            now,
        )
    if not policy.enabled or policy.sequence_id is None:
        return 0
    sequence = scope.find(SequenceRow, policy.sequence_id)
    if sequence is None:
        return 0
    cold = _still_cold(scope, {lead for _, lead, to in rows if to is Temperature.cold})
    done = enroll(scope, sequence, sorted(cold), now, by="trigger: turned cold", keep_refused=True)
    return len(done.enrolled)


def _still_cold(scope: Scope, leads: Iterable[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(sorted(set(leads))):
        found.update(
            scope.session.scalars(
                select(Lead.id).where(
                    Lead.workspace_id == scope.workspace_id,
                    Lead.id.in_(chunk),
                    Lead.temperature == Temperature.cold,
                )
            )
        )
    return found


def _stage_exits(scope: Scope, policy: Reengagement) -> None:
    rows = (
        scope.session.execute(
            select(
                StageChange.id, StageChange.lead_id, Stage.kind, Stage.name, StageChange.changed_at
            )
            .join(Stage, Stage.id == StageChange.to_stage_id)
            .where(
                StageChange.workspace_id == scope.workspace_id,
                StageChange.id > policy.stages_cursor,
            )
            .order_by(StageChange.id)
            .limit(STEP)
        )
        .tuples()
        .all()
    )
    if not rows:
        return
    policy.stages_cursor = rows[-1][0]
    latest = {lead: (kind, name, at) for _, lead, kind, name, at in rows}
    exits: list[Exit] = []
    for chunk in chunks(sorted(latest)):
        for enrollment_id, lead_id, kinds in scope.session.execute(
            select(Enrollment.id, Enrollment.lead_id, SequenceRow.exit_stage_kinds)
            .join(SequenceRow, SequenceRow.id == Enrollment.sequence_id)
            .where(
                Enrollment.workspace_id == scope.workspace_id,
                Enrollment.lead_id.in_(chunk),
                Enrollment.ended_at.is_(None),
            )
        ).tuples():
            assert lead_id is not None
            kind, name, _at = latest[lead_id]
            if kind.value in (kinds or []):
                exits.append(Exit(enrollment_id, ExitReason.stage, name))
    exit_enrollments(scope.session, scope.workspace_id, exits, max(a for *_, a in rows))


def _run(scope: Scope, trigger: Trigger, now: dt.datetime, limit: int) -> int:
    sequence = scope.session.get_one(SequenceRow, trigger.sequence_id)
    if sequence.state is not SequenceState.active:
        return 0
    leads: list[int] = []
    by = f"trigger: {describe(trigger)}"
    session = scope.session
    ws = scope.workspace_id
    if trigger.kind is TriggerKind.stage:
        leads, trigger.cursor = _after(
            session, StageChange, ws, trigger.cursor, StageChange.to_stage_id == trigger.stage_id
        )
    elif trigger.kind is TriggerKind.cold:
        found, trigger.cursor = _after(
            session,
            TemperatureChange,
            ws,
            trigger.cursor,
            TemperatureChange.to_temperature == Temperature.cold,
        )
        leads = sorted(_still_cold(scope, found))
    elif trigger.kind is TriggerKind.inbound:
        leads, trigger.cursor = _after(
            session, Activity, ws, trigger.cursor, Activity.kind == ActivityKind.inquiry
        )
    elif trigger.kind is TriggerKind.score:
        leads = _page(scope, trigger, sequence, Lead.score >= (trigger.score or 0), now, limit)
    elif trigger.kind is TriggerKind.segment:
        segment = scope.find(Segment, trigger.segment_id or 0)
        if segment is None:
            return 0
        try:
            node = parse(segment.filter)
            inside = compiler(scope, node, now).where(node)
        except FilterProblem:  # edited into something that no longer compiles
            return 0
        leads = _page(scope, trigger, sequence, inside, now, limit)
    if not leads:
        return 0
    done = enroll(scope, sequence, list(dict.fromkeys(leads)), now, by=by, keep_refused=True)
    return len(done.enrolled)


def _page(
    scope: Scope,
    trigger: Trigger,
    sequence: SequenceRow,
    inside: ColumnElement[bool],
    now: dt.datetime,
    limit: int,
) -> list[int]:
    """A state trigger's next page of leads that are `inside` now, past its cursor (the
    last lead it looked at), but for those the sequence would not take again: live in it,
    or through it and not yet due again. After the last page the cursor goes back to 0."""
    taken = select(Enrollment.lead_id).where(
        Enrollment.sequence_id == sequence.id, Enrollment.lead_id.is_not(None)
    )
    if (days := sequence.reenroll_after_days) is not None:
        since = now - dt.timedelta(days=days)
        taken = taken.where(or_(Enrollment.ended_at.is_(None), Enrollment.ended_at > since))
    leads = list(
        scope.session.scalars(
            select(Lead.id)
            .where(Lead.workspace_id == scope.workspace_id, Lead.id > trigger.cursor, inside)
            .where(~Lead.id.in_(taken))
            .order_by(Lead.id)
            .limit(limit)
        )
    )
    trigger.cursor = leads[-1] if len(leads) == limit else 0
    return leads


def describe(trigger: Trigger) -> str:
    return {
        TriggerKind.segment: "in a segment",
        TriggerKind.stage: "entered a stage",
        TriggerKind.cold: "turned cold",
        TriggerKind.score: f"score reached {trigger.score}",
        TriggerKind.inbound: "new inbound lead",
    }[trigger.kind]


def _after(
    session: Session, model: Any, workspace_id: int, cursor: int, condition: Any
) -> tuple[list[int], int]:
    """The leads of the next STEP rows of `model` after `cursor` that meet `condition`,
    oldest first, and the cursor past them (unchanged when there are none)."""
    rows = (
        session.execute(
            select(model.id, model.lead_id)
            .where(model.workspace_id == workspace_id, model.id > cursor, condition)
            .order_by(model.id)
            .limit(STEP)
        )
        .tuples()
        .all()
    )
    return [lead for _, lead in rows], rows[-1][0] if rows else cursor

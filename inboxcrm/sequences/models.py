"""The sequences' tables: Sequence and its Steps, Enrollment (one lead in one sequence:
`next_at` is the queue the clock drains), its history, the owner's tasks, the triggers
that enroll on their own and the workspace's re-engagement policy."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, enum_column, utcnow


class SequenceState(enum.StrEnum):
    active = "active"
    paused = "paused"  # nothing advances; due steps are spread over the windows on resume


class StepKind(enum.StrEnum):
    email = "email"
    wait = "wait"
    task = "task"  # for the lead's owner; the sequence waits until it is done or skipped


class Threading(enum.StrEnum):
    new = "new"  # a new thread with the template's subject
    follow_up = "follow_up"  # in the previous email's thread, its subject, In-Reply-To


class WaitUnit(enum.StrEnum):
    hours = "hours"
    days = "days"
    business_days = "business_days"  # Monday to Friday, in the lead's timezone


class Condition(enum.StrEnum):
    """An email step goes only if the lead did (or did not) this to the previous email."""

    opened = "opened"
    not_opened = "not_opened"
    clicked = "clicked"
    not_clicked = "not_clicked"
    replied = "replied"
    not_replied = "not_replied"


class OnTemplateError(enum.StrEnum):
    skip = "skip"  # the step is skipped with the reason; the enrollment goes on
    wait = "wait"  # the enrollment waits at the step until the template is fixed


class EnrollmentState(enum.StrEnum):
    active = "active"  # due at `next_at`
    paused = "paused"  # its sequence is paused
    task = "task"  # waiting for the owner's task
    finished = "finished"  # past the last step
    exited = "exited"  # left early: `exit_reason`


LIVE = (EnrollmentState.active, EnrollmentState.paused, EnrollmentState.task)


class ExitReason(enum.StrEnum):
    replied = "replied"
    company_replied = "company_replied"  # someone else at the lead's company replied
    meeting = "meeting"  # accepted a meeting
    bounced = "bounced"
    unsubscribed = "unsubscribed"  # or suppressed
    stage = "stage"  # moved to a won, lost or unqualified stage (configurable)
    rewarmed = "rewarmed"  # a re-engaged lead warmed up again
    removed = "removed"  # junked ("Not a lead") or merged into another lead
    manual = "manual"  # unenrolled by hand


class Outcome(enum.StrEnum):
    """A re-engagement's result."""

    rewarmed = "rewarmed"
    no_response = "no_response"


class Sequence(InWorkspace, Base):
    __tablename__ = "sequence"

    name: Mapped[str] = mapped_column(String(120))
    state: Mapped[SequenceState] = mapped_column(
        enum_column(SequenceState), default=SequenceState.active
    )
    # The sender: the lead owner's mailbox unless one is chosen.
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailbox.id", ondelete="SET NULL"))
    window: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: working hours
    exit_on_company_reply: Mapped[bool] = mapped_column(default=False, server_default=false())
    exit_stage_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A lead in an exclusive sequence is not enrolled in another exclusive one meanwhile.
    exclusive: Mapped[bool] = mapped_column(default=True, server_default=true())
    reenroll_after_days: Mapped[int | None]  # None: never enrolled again once it was
    on_template_error: Mapped[OnTemplateError] = mapped_column(
        enum_column(OnTemplateError), default=OnTemplateError.skip
    )
    reengagement: Mapped[bool] = mapped_column(default=False, server_default=false())
    rewarmed_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("stage.id", ondelete="SET NULL")
    )
    no_response_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("stage.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    steps: Mapped[list[Step]] = relationship(
        back_populates="sequence", order_by="Step.position", cascade="all, delete-orphan"
    )

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    @property
    def live_steps(self) -> list[Step]:
        return [s for s in self.steps if s.removed_at is None]


class Step(InWorkspace, Base):
    """One step. A removed step stays (removed_at) so the history still names it and no
    enrollment comes back to it."""

    __tablename__ = "sequence_step"

    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[StepKind] = mapped_column(enum_column(StepKind))
    template_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("template_version.id", ondelete="RESTRICT")
    )
    threading: Mapped[Threading] = mapped_column(enum_column(Threading), default=Threading.new)
    condition: Mapped[Condition | None] = mapped_column(enum_column(Condition))
    wait_amount: Mapped[int | None]
    wait_unit: Mapped[WaitUnit | None] = mapped_column(enum_column(WaitUnit))
    task: Mapped[str | None] = mapped_column(String(300))
    removed_at: Mapped[dt.datetime | None]

    sequence: Mapped[Sequence] = relationship(back_populates="steps")

    __table_args__ = (Index(None, "sequence_id", "position"),)


class Enrollment(InWorkspace, Base):
    """One lead in one sequence. `step_id` is the step it does next (None: past the
    last); `next_at` is when (the queue). `live_lead_id` is the lead while the enrollment
    is live and NULL after: unique per sequence, so a lead is in it at most once at a
    time, whoever enrolls it at the same moment."""

    __tablename__ = "enrollment"

    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"))
    live_lead_id: Mapped[int | None]
    state: Mapped[EnrollmentState] = mapped_column(
        enum_column(EnrollmentState), default=EnrollmentState.active
    )
    step_id: Mapped[int | None] = mapped_column(ForeignKey("sequence_step.id", ondelete="SET NULL"))
    step_at: Mapped[dt.datetime]  # when it reached its step (a wait counts from then)
    next_at: Mapped[dt.datetime | None]
    last_send_id: Mapped[int | None] = mapped_column(ForeignKey("send.id", ondelete="SET NULL"))
    enrolled_at: Mapped[dt.datetime]
    enrolled_by: Mapped[str] = mapped_column(String(200))  # "Ava Reed", "trigger: turned cold"
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    ended_at: Mapped[dt.datetime | None]
    exit_reason: Mapped[ExitReason | None] = mapped_column(enum_column(ExitReason))
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome))

    __table_args__ = (
        UniqueConstraint("sequence_id", "live_lead_id"),
        Index(None, "next_at"),
        Index(None, "lead_id"),
        Index(None, "workspace_id", "live_lead_id"),
    )


class EventKind(enum.StrEnum):
    enrolled = "enrolled"
    planned = "planned"  # an email step's Send was planned
    skipped = "skipped"
    waited = "waited"
    task = "task"
    task_done = "task_done"
    postponed = "postponed"  # an out-of-office
    paused = "paused"
    resumed = "resumed"
    exited = "exited"
    finished = "finished"
    moved = "moved"  # the outcome moved the lead to a stage


class EnrollmentEvent(InWorkspace, Base):
    """An enrollment's history, append-only: what happened, at which step, and why."""

    __tablename__ = "enrollment_event"

    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind))
    step_id: Mapped[int | None] = mapped_column(ForeignKey("sequence_step.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (Index(None, "enrollment_id", "at"),)


class Task(InWorkspace, Base):
    """A task step for the lead's owner ("call Ana"): on their page and the lead page."""

    __tablename__ = "sequence_task"

    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("sequence_step.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime]
    done_at: Mapped[dt.datetime | None]
    skipped: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id"),
        Index(None, "member_id", "done_at"),
        Index(None, "lead_id"),
    )


class Refusal(InWorkspace, Base):
    """Why a trigger did not enroll a lead in a sequence (suppressed, in another sequence,
    no Gmail to send from), kept so the lead page can say so: one row a sequence and lead,
    the first time for this reason (`since`), gone once the lead is enrolled there."""

    __tablename__ = "enrollment_refusal"

    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(300))
    by: Mapped[str] = mapped_column(String(200))  # "trigger: turned cold"
    since: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("sequence_id", "lead_id"), Index(None, "lead_id"))


class TriggerKind(enum.StrEnum):
    segment = "segment"  # a lead is in the segment
    stage = "stage"  # a lead enters the stage
    cold = "cold"  # a lead turns cold
    score = "score"  # a lead's score reaches the line
    inbound = "inbound"  # a new inbound lead (its inquiry)


class Trigger(InWorkspace, Base):
    """Enrolls leads on its own. Event triggers read their table past `cursor` (the last
    row id seen), so a tick run twice enrolls nobody twice."""

    __tablename__ = "sequence_trigger"

    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    kind: Mapped[TriggerKind] = mapped_column(enum_column(TriggerKind))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="CASCADE"))
    score: Mapped[int | None]
    cursor: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "sequence_id"),)


class Reengagement(InWorkspace, Base):
    """The workspace's re-engagement policy, made (on, with its default sequence) the first
    time the clock sees the workspace. `cursor`: the last temperature change read."""

    __tablename__ = "reengagement"

    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequence.id", ondelete="SET NULL"))
    cursor: Mapped[int] = mapped_column(default=0, server_default="0")
    stages_cursor: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (UniqueConstraint("workspace_id"),)

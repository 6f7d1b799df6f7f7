"""The demo's sequences: a nurture sequence with enrollees at different steps (some due
at once, so the demo sends within its first minute and the sandbox audience answers,
auto-replies and bounces), and the re-engagement sequence already holding leads that went
cold. Seeded before any Gmail is connected: the first emails wait for Ava's mailbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from inboxcrm.accounts.models import Member
from inboxcrm.campaigns.templates import create_template
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.scoring.models import TemperatureChange
from inboxcrm.sequences.models import Enrollment
from inboxcrm.sequences.service import NO_MARKETING, create_sequence, enroll
from inboxcrm.sequences.triggers import policy_of
from inboxcrm.stages.models import StageKind
from inboxcrm.tenancy import Scope

NURTURE = (
    (
        "Nurture: welcome",
        'A few ideas for {{ company.name | default("your team") }}',
        'Hi {{ lead.first_name | default("there") }},\n\nThanks for your interest. Here are '
        'three ways teams like yours use us.\n\n{{ sender.name | default("") }}',
    ),
    (
        "Nurture: case study",
        "ignored: a follow-up keeps the first subject",
        "Hi again,\n\nA customer story you may like: they cut their reporting time in half."
        '\n\n{{ sender.name | default("") }}',
    ),
    (
        "Nurture: last note",
        'Worth a call, {{ lead.first_name | default("there") }}?',
        'Would a 20-minute call next week help?\n\n{{ sender.name | default("") }}',
    ),
)


def seed_sequences(scope: Scope, marketer: Member, now: dt.datetime) -> None:
    versions = [
        create_template(scope, marketer, name, subject, body, now).current.id
        for name, subject, body in NURTURE
    ]
    nurture = create_sequence(
        scope,
        marketer,
        "Nurture new leads",
        [
            {"kind": "email", "template_version_id": versions[0]},
            {"kind": "wait", "wait_amount": 2, "wait_unit": "days"},
            {"kind": "email", "template_version_id": versions[1], "threading": "follow_up"},
            {"kind": "wait", "wait_amount": 3, "wait_unit": "business_days"},
            {"kind": "task", "task": "Call them: they have had two emails"},
            {"kind": "email", "template_version_id": versions[2]},
        ],
        now,
    )
    leads = [
        lead
        for lead in scope.session.scalars(scope.select(Lead).order_by(Lead.id)).unique()
        if lead.stage.kind not in NO_MARKETING and lead.stage.kind is not StageKind.won
    ]
    chosen = leads[:12]
    enroll(scope, nurture, [lead.id for lead in chosen], now, by="demo", need_sender=False)
    # Enrollees at different steps: a third at the start (due now), a third waiting
    # before the follow-up, a third at the last email.
    steps = nurture.live_steps
    for n, lead in enumerate(chosen):
        at, step = [(0, steps[0]), (1, steps[1]), (2, steps[5])][n % 3]
        scope.session.execute(
            update(Enrollment)
            .where(Enrollment.sequence_id == nurture.id, Enrollment.lead_id == lead.id)
            .values(step_id=step.id, step_at=now - dt.timedelta(days=at), next_at=now)
        )
    # Leads that went cold a few days ago, already caught by the re-engagement policy; one
    # of them was in the nurture sequence, so the policy left it out, saying why.
    policy = policy_of(scope, now)
    reengage = scope.session.get(type(nurture), policy.sequence_id) if policy.sequence_id else None
    cold = [*leads[12:17], chosen[1]]
    for lead in cold:
        lead.temperature = Temperature.cold
        scope.session.add(
            TemperatureChange(
                workspace_id=scope.workspace_id,
                lead_id=lead.id,
                from_temperature=Temperature.warm,
                to_temperature=Temperature.cold,
                changed_at=now - dt.timedelta(days=2),
            )
        )
    scope.session.flush()
    policy.cursor = (
        scope.session.scalar(select(TemperatureChange.id).order_by(TemperatureChange.id.desc()))
        or 0
    )
    if reengage is not None:
        enroll(
            scope,
            reengage,
            [lead.id for lead in cold],
            now,
            by="trigger: turned cold",
            need_sender=False,
            keep_refused=True,
        )
    scope.session.flush()

"""Sequences as tests build them: templates and steps through the real services, a
window open all day (so simulated times need no working hours), and the clock's ticks
(advance, dispatch with the send-time checks, sync) at injected times."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import select

from inboxcrm.accounts.models import Member, Role
from inboxcrm.campaigns.templates import create_template
from inboxcrm.leads.models import Lead
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.mail.steps import SyncSteps
from inboxcrm.outbox.dispatch import Tally, dispatch_due
from inboxcrm.outbox.models import Send
from inboxcrm.sequences.advance import Advanced, advance_enrollments
from inboxcrm.sequences.models import Enrollment, EnrollmentEvent, Sequence
from inboxcrm.sequences.service import create_sequence, enroll
from inboxcrm.setup import SEND_CHECKS, SYNC_STEPS
from inboxcrm.tenancy import Scope
from tests.support.mail import raw_eml
from tests.support.outbox import Outbox
from tests.support.sandbox import AVA, deliver

ALL_DAY = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # a Monday: the service tests' clock
_n = itertools.count(1)


def template_version(scope: Scope, admin: Member, subject: str, body: str = "Hi") -> int:
    """A new template's version, made by the admin at T0."""
    return create_template(scope, admin, f"t{next(_n)}", subject, body, T0).current.id


def new_sequence(
    scope: Scope, admin: Member, steps: list[dict[str, Any]], **settings: Any
) -> Sequence:
    """A sequence of these steps made at T0, its window open all day, committed."""
    made = create_sequence(
        scope, admin, f"Sequence {next(_n)}", steps, T0, {"window": ALL_DAY, **settings}
    )
    scope.session.commit()
    return made


def scope(outbox: Outbox) -> Scope:
    return Scope(outbox.session, outbox.mailbox.workspace_id)


def template(outbox: Outbox, subject: str, body: str = "Hi {{ lead.first_name }}") -> int:
    member = outbox.mailbox.member
    assert member is not None
    member.role = Role.admin
    made = create_template(
        scope(outbox), member, f"t{next(_n)}", subject, body, dt.datetime.now(dt.UTC)
    )
    return made.current.id


def three_steps(outbox: Outbox) -> list[dict[str, Any]]:
    """Email, 3 days, a follow-up in the same thread, 2 days, a last email."""
    return [
        {"kind": "email", "template_version_id": template(outbox, "Quick question")},
        {"kind": "wait", "wait_amount": 3, "wait_unit": "days"},
        {
            "kind": "email",
            "template_version_id": template(outbox, "ignored"),
            "threading": "follow_up",
        },
        {"kind": "wait", "wait_amount": 2, "wait_unit": "days"},
        {"kind": "email", "template_version_id": template(outbox, "Last note")},
    ]


def sequence(
    outbox: Outbox, steps: list[dict[str, Any]] | None = None, **settings: Any
) -> Sequence:
    member = outbox.mailbox.member
    made = create_sequence(
        scope(outbox),
        member,
        f"Nurture {next(_n)}",
        steps or three_steps(outbox),
        dt.datetime.now(dt.UTC),
        {"window": ALL_DAY, **settings},
    )
    outbox.session.commit()
    return made


def enrolled(outbox: Outbox, seq: Sequence, lead: Lead, now: dt.datetime) -> Enrollment:
    done = enroll(scope(outbox), seq, [lead.id], now, by="test", member=outbox.mailbox.member)
    outbox.session.commit()
    assert done.enrolled, done.refused
    return outbox.session.get_one(Enrollment, done.enrolled[0])


def advance(outbox: Outbox, now: dt.datetime) -> Advanced:
    done = advance_enrollments(outbox.db, now)
    outbox.session.expire_all()
    return done


def dispatch(outbox: Outbox, now: dt.datetime) -> Tally:
    done = dispatch_due(outbox.runtime, now, checks=SEND_CHECKS)
    outbox.session.expire_all()
    return done


def sync(outbox: Outbox, steps: SyncSteps = SYNC_STEPS) -> None:
    sync_claimed(outbox.runtime, outbox.mailbox.id, steps, stop=lambda: False)
    outbox.session.expire_all()


def reply(
    outbox: Outbox,
    send: Send,
    at: dt.datetime,
    *,
    sender: str | None = None,
    text: str = "Sounds good, call me.",
    headers: tuple[str, ...] = (),
) -> None:
    """The lead answers `send` in its thread (delivered to Ava's Gmail)."""
    deliver(
        outbox.control,
        AVA,
        raw_eml(
            f"From: {sender or send.to_email}",
            f"To: {AVA}",
            f"Subject: Re: {send.subject}",
            f"In-Reply-To: {send.message_id}",
            f"References: {send.message_id}",
            f"Message-ID: <r{next(_n)}@customer.example>",
            f"Date: {at.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            *headers,
            body=text,
        ),
    )


def sends(outbox: Outbox) -> list[Send]:
    return list(outbox.session.scalars(select(Send).order_by(Send.id)))


def history(outbox: Outbox, enrollment: Enrollment) -> list[str]:
    rows = outbox.session.scalars(
        select(EnrollmentEvent)
        .where(EnrollmentEvent.enrollment_id == enrollment.id)
        .order_by(EnrollmentEvent.id)
    )
    return [f"{e.kind.value}{': ' + e.detail if e.detail else ''}" for e in rows]

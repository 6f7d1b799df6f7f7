"""Sequences at scale and against a realistic audience (issue #17).

Prints one JSON object:
- advance_100k_s (target <= 2 s): one tick of the advance job (`advance_enrollments`,
  one batch) over 100,000 active enrollments of which 5,000 are due, on SQLite: half at
  their first email, half past a wait before a follow-up, so each of the 5,000 renders
  its template and plans a Send through the outbox. `advance_replay_planned`: the same
  tick run again at the same time plans nothing (0).
- sent_after_exit (target 0), duplicate_steps (target 0): a simulated month, an hour per
  round, of a three-email sequence for LEADS leads from one sandbox Gmail, the sandbox's
  outside world answering as a realistic audience does (replies, out-of-office replies,
  hard bounces, unsubscribe requests, silence); each round the sandbox clock moves an
  hour and does what is due, the mailbox is synced with the real sync steps, the clock's
  triggers and advance run and the outbox dispatches what is due with the send-time
  checks. sent_after_exit: step emails sent after the lead's reply, meeting, unsubscribe
  or hard bounce had arrived; duplicate_steps: (enrollment, step) pairs with more than one
  message in Gmail's SENT (by the send's token header).
- reply_to_exit_s (target <= one poll interval, 60 s): from a reply arriving in Gmail to
  its enrollment's exit, at worst: a poll interval of waiting for the mailbox's next poll
  (`poll_interval_s`) plus the measured sync pass that reads the reply and ends the
  enrollment (`reply_sync_s`). The target holds when `reply_sync_s` is well under
  the interval, as the reply is read by the first poll after it arrives.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.*

from benchmarks.outbox import Bench
from inboxcrm.accounts.models import Mailbox, Role
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.campaigns.templates import create_template
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LeadEmail
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import create_lead
from inboxcrm.mail.jobs import POLL_EVERY, sync_claimed
from inboxcrm.migrate import upgrade
from inboxcrm.outbox.dispatch import dispatch_due
from inboxcrm.outbox.models import MailboxSending, Send, SendState
from inboxcrm.sequences.advance import advance_enrollments
from inboxcrm.sequences.models import Enrollment, EnrollmentState, Sequence
from inboxcrm.sequences.service import create_sequence, enroll
from inboxcrm.sequences.triggers import run_triggers
from inboxcrm.setup import SEND_CHECKS, SYNC_STEPS, keyed
from inboxcrm.stages.models import Stage
from inboxcrm.tenancy import Scope

ACTIVE = 100_000
DUE = 5_000
LEADS = 120
DOMAIN = "northwind.io"
ALL_DAY = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}
BODY = 'Hi {{ lead.first_name | default("there") }},\n\nA short note from {{ sender.name }}.'
AUDIENCE = {"reply": 0.2, "out_of_office": 0.1, "unknown": 0.05, "unsubscribe_reply": 0.05}


def _steps(session: Any, scope: Scope, member: Any, now: dt.datetime) -> list[dict[str, Any]]:
    ids = [create_template(scope, member, f"Step {n}", f"Note {n}", BODY, now).current.id
           for n in (1, 2, 3)]  # fmt: skip
    return [
        {"kind": "email", "template_version_id": ids[0]},
        {"kind": "wait", "wait_amount": 3, "wait_unit": "days"},
        {"kind": "email", "template_version_id": ids[1], "threading": "follow_up"},
        {"kind": "wait", "wait_amount": 4, "wait_unit": "days"},
        {"kind": "email", "template_version_id": ids[2]},
    ]


def advance_at_scale(workdir: Path) -> dict[str, Any]:
    url = f"sqlite:///{workdir / 'advance.sqlite3'}"
    upgrade(url)
    db = Database(url)
    now = utcnow()
    with db.session() as s:
        ws = create_workspace(s, "Bench", DOMAIN)
        member = add_member(s, ws, f"rep@{DOMAIN}", Role.admin, "Rep One")
        box = Mailbox(workspace_id=ws.id, member_id=member.id, email=member.email)
        s.add(box)
        s.flush()
        scope = Scope(s, ws.id)
        seq = create_sequence(scope, member, "Nurture", _steps(s, scope, member, now), now,
                              {"window": ALL_DAY})  # fmt: skip
        stage_id = s.scalars(select(Stage.id).where(Stage.workspace_id == ws.id)).first()
        step_ids = [st.id for st in seq.live_steps]
        ws_id, member_id, seq_id = ws.id, member.id, seq.id
    with db.engine.begin() as conn:
        for start in range(0, ACTIVE, 10_000):
            leads, emails, enrollments = [], [], []
            for i in range(start, start + 10_000):
                email = f"p{i}@c{i % 2000}.example"
                leads.append(
                    {
                        "id": i + 1,
                        "workspace_id": ws_id,
                        "email": email,
                        "name": f"Person {i}",
                        "owner_id": member_id,
                        "stage_id": stage_id,
                        "score": 0,
                        "currency": "USD",
                        "source": "mail",
                        "search_text": email,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                emails.append({"workspace_id": ws_id, "lead_id": i + 1, "email": email})
                due = i < DUE
                at_wait = i % 2 == 1
                enrollments.append({
                    "workspace_id": ws_id, "sequence_id": seq_id, "lead_id": i + 1,
                    "live_lead_id": i + 1, "state": EnrollmentState.active.value,
                    "step_id": step_ids[1] if at_wait else step_ids[0],
                    "step_at": now - dt.timedelta(days=4 if at_wait else 0),
                    "next_at": now - dt.timedelta(minutes=1) if due
                    else now + dt.timedelta(hours=1 + i % 500),
                    "enrolled_at": now - dt.timedelta(days=5), "enrolled_by": "bench",
                })  # fmt: skip
            conn.execute(insert(Lead), leads)
            conn.execute(insert(LeadEmail), emails)
            conn.execute(insert(Enrollment), enrollments)
    started = time.perf_counter()
    cpu = time.process_time()
    done = advance_enrollments(db, now)
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    again = advance_enrollments(db, now)
    with db.session() as s:
        planned = s.scalar(select(func.count()).select_from(Send)) or 0
    db.dispose()
    return {
        "advance_100k_s": round(elapsed, 3),
        "advance_100k_cpu_s": round(cpu_s, 3),
        "advance_enrollments": done.enrollments,
        "advance_planned": planned,
        "advance_replay_planned": again.planned,
    }


def month(workdir: Path) -> dict[str, Any]:
    bench = Bench(workdir, "month")
    try:
        (box_id,) = bench.mailboxes([f"ava@{DOMAIN}"])
        bench.control("recipients", {"rates": AUDIENCE, "seed": 7})
        start = dt.datetime.fromtimestamp(
            __import__("requests").get(f"{bench.url}/_sandbox/clock", timeout=10).json()["now"],
            dt.UTC,
        )
        emails = [f"lead{i}@customer{i % 40}.example" for i in range(LEADS)]
        bench.control("contacts", {"emails": emails})
        with bench.database.session() as s:
            mailbox = s.get_one(Mailbox, box_id)
            member = mailbox.member
            assert member is not None
            member.role = Role.admin
            scope = Scope(s, mailbox.workspace_id)
            leads = [create_lead(scope, LeadCreate(email=e, name=f"Lead {i}"), member, start).id
                     for i, e in enumerate(emails)]  # fmt: skip
            seq = create_sequence(scope, member, "Nurture", _steps(s, scope, member, start),
                                  start, {"window": ALL_DAY})  # fmt: skip
            enroll(scope, seq, leads, start, by="bench")
        bench.gaps(1)
        steps = keyed(SYNC_STEPS, bench.runtime)
        now = start
        for _hour in range(24 * 30):
            bench.control("run", {"advance": 3600})
            now += dt.timedelta(hours=1)
            sync_claimed(bench.runtime, box_id, steps, stop=lambda: False)
            run_triggers(bench.database, now)
            advance_enrollments(bench.database, now)
            for n in range(400):
                tally = dispatch_due(bench.runtime, now + dt.timedelta(seconds=2 * n),
                                     checks=SEND_CHECKS)  # fmt: skip
                if tally.mailboxes == 0:
                    break
            with bench.database.session() as s:
                s.execute(update(MailboxSending).values(next_slot_at=None))
        sync_claimed(bench.runtime, box_id, steps, stop=lambda: False)
        return _month_figures(bench) | {"reply_sync_s": _reply_to_exit(bench, box_id, steps)}
    finally:
        bench.stop()


def _month_figures(bench: Bench) -> dict[str, Any]:
    tokens = bench.sent_tokens()
    with bench.database.session() as s:
        sends = s.execute(
            select(Send.source_id, Send.token, Send.sent_at, Send.lead_id)
            .where(Send.state == SendState.sent)
        ).tuples().all()  # fmt: skip
        ended = {
            lead: at
            for lead, at in s.execute(
                select(Activity.lead_id, func.min(Activity.occurred_at))
                .where(Activity.kind.in_((ActivityKind.reply, ActivityKind.meeting,
                                          ActivityKind.unsubscribe)))
                .group_by(Activity.lead_id)
            ).tuples()
        }  # fmt: skip
        bounced = {
            lead: at
            for lead, at, detail in s.execute(
                select(Activity.lead_id, Activity.occurred_at, Activity.detail)
                .where(Activity.kind == ActivityKind.bounce)
            ).tuples()
            if isinstance(detail, dict) and detail.get("type") == "hard"
        }  # fmt: skip
        states = Counter(
            f"{state.value}:{reason.value if reason else ''}"
            for state, reason in s.execute(
                select(Enrollment.state, Enrollment.exit_reason)
            ).tuples()
        )  # fmt: skip
    after = 0
    for _source, _token, sent_at, lead in sends:
        stop = min(t for t in (ended.get(lead), bounced.get(lead)) if t) if (
            ended.get(lead) or bounced.get(lead)) else None  # fmt: skip
        if stop is not None and sent_at is not None and sent_at > stop:
            after += 1
    duplicates = sum(1 for _s, token, _at, _l in sends if token and tokens[token] > 1)
    by_step = Counter(source for source, *_ in sends)
    return {
        "month_sent": len(sends),
        "month_enrollments": dict(sorted(states.items())),
        "sent_after_exit": after,
        "duplicate_steps": duplicates + sum(1 for c in by_step.values() if c > 1),
    }


def _one_more(bench: Bench, box_id: int) -> Any:
    email = "late.lead@customer99.example"
    bench.control("contacts", {"emails": [email]})
    bench.control("recipients", {"address": email, "behaviour": "deliver"})
    with bench.database.session() as s:
        mailbox = s.get_one(Mailbox, box_id)
        scope = Scope(s, mailbox.workspace_id)
        lead = create_lead(
            scope, LeadCreate(email=email, name="Late Lead"), mailbox.member, utcnow()
        )
        seq = s.scalars(select(Sequence)).first()
        assert seq is not None
        enroll(scope, seq, [lead.id], utcnow(), by="bench")
    now = utcnow() + dt.timedelta(days=40)
    advance_enrollments(bench.database, now)
    dispatch_due(bench.runtime, now, checks=SEND_CHECKS)
    with bench.database.session() as s:
        return s.execute(
            select(Enrollment.id, Send.to_email, Send.message_id, Send.subject)
            .join(Send, Send.id == Enrollment.last_send_id)
            .where(Send.to_email == email, Send.state == SendState.sent)
        ).one()


def _reply_to_exit(bench: Bench, box_id: int, steps: Any) -> float:
    """A reply to a live enrollment's email arrives; the mailbox's next poll reads it:
    seconds from the delivery to the exit committed."""
    with bench.database.session() as s:
        row = s.execute(
            select(Enrollment.id, Send.to_email, Send.message_id, Send.subject)
            .join(Send, Send.id == Enrollment.last_send_id)
            .where(Enrollment.ended_at.is_(None), Send.state == SendState.sent)
            .limit(1)
        ).first()
    if row is None:  # everyone answered or finished: one more, its first email sent
        row = _one_more(bench, box_id)
    enrollment_id, to, message_id, subject = row
    raw = "\r\n".join([
        f"From: {to}", f"To: ava@{DOMAIN}", f"Subject: Re: {subject}",
        f"In-Reply-To: {message_id}", f"References: {message_id}",
        f"Message-ID: <bench-{random.random()}@customer.example>", "", "Yes, let's talk.", "",
    ])  # fmt: skip
    started = time.perf_counter()
    bench.control("deliver", {"to": f"ava@{DOMAIN}", "eml": raw})
    sync_claimed(bench.runtime, box_id, steps, stop=lambda: False)
    elapsed = time.perf_counter() - started
    with bench.database.session() as s:
        state = s.get_one(Enrollment, enrollment_id).state
    return round(elapsed, 3) if state is EnrollmentState.exited else float("inf")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        figures = advance_at_scale(Path(tmp))
        figures |= month(Path(tmp))
    poll = POLL_EVERY.total_seconds()
    figures["poll_interval_s"] = poll
    figures["reply_to_exit_s"] = round(poll + figures["reply_sync_s"], 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

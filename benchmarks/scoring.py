"""What scoring costs at scale: rescoring a workspace of 100,000 leads, the scoring step of
a sync batch, the pages that explain a score, and classifying raw mail.

Prints one JSON object, each figure by the clock (`_s`, `_ms`) and by this process's CPU
time (`_cpu_s`, `_cpu_ms`): the machine may be shared, and SQLite's commits wait on disk.

- `rescore_s` (target <= 5 s): `rescore_workspace` over 100,000 leads holding about
  1,000,000 score events, on SQLite (or PostgreSQL, see benchmarks/database.py). The data
  is bulk-inserted: per lead a thread, and activities of the scored kinds with the details
  the signals store (replies with their latency, a first inquiry, meetings accepted, hard
  and soft bounces, unsubscribe requests, out-of-office replies, which earn nothing), each
  with its message for the reason's subject; titles and BANT fields for the fit rules.
  The events are stored by a first rescore under the rules as they were before a change
  (a reply worth 8 points, not 10). Timed: one `rescore_workspace` call with the default
  rules, i.e. what runs after that rule change: every lead loaded, the reply rule's
  events (about half of all events) rewritten in SQL where its cap of 30 a week held
  nothing back before and holds nothing back now, and awarded again from the replies for
  the leads where it may have (the other rules' events kept), scores summed from the
  stored events, temperatures and next looks written, a transaction per WORKSPACE_STEP
  leads.
  `rescore_unchanged_s` is the same call once more: nothing changed, nothing written.
- `scoring_ms_per_batch` (target <= 50 ms): `score_leads` alone, inside a real sync batch
  of 500 messages (our mail and the replies of 200 leads, out-of-office replies and hard
  bounces for 50 more) stored and run through the sync steps in that workspace; the
  median of RUNS batches, each rolled back.
- `lead_page_p95_ms` (target < 50 ms): p95 of the lead page and of its "why this score"
  page (`/leads/<id>/score`, with the 90-day chart) for a lead with MANY events over two
  years, through the real app; the objects the seed and the rescores left in this
  process frozen first (`gc.freeze`), as a server process holds none of them.
- `classify_msgs_per_s` (target >= 1,000): benchmarks/classify.py's mix, parsed and
  classified.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.*, tests.support

from benchmarks import timing
from benchmarks.classify import sample
from benchmarks.database import bench_database, dialect, finish_seed
from inboxcrm import create_app
from inboxcrm.accounts.models import Mailbox, Role
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.labels.steps import stages_from_labels
from inboxcrm.leads.models import (
    Activity,
    ActivityKind,
    Company,
    Lead,
    LeadEmail,
    Temperature,
    ThreadLead,
)
from inboxcrm.leads.steps import capture_mail
from inboxcrm.mail.models import Direction, Message, MessageKind, Thread
from inboxcrm.mail.parse import parse_raw
from inboxcrm.mail.steps import Batch, SyncSteps
from inboxcrm.mail.sync import store_fetched
from inboxcrm.scoring import jobs
from inboxcrm.scoring.models import ScoreEvent
from inboxcrm.scoring.rescore import rescore
from inboxcrm.scoring.rules import DEFAULT_RULES, Rule
from inboxcrm.scoring.steps import score_leads
from inboxcrm.signals.classify import read_signals
from inboxcrm.signals.steps import detect_signals
from inboxcrm.stages.models import Stage
from tests.support.signals import fetched, gmail_bounce, message, out_of_office
from tests.support.synced import START_MS

LEADS = int(os.environ.get("INBOXCRM_BENCH_LEADS", "100000"))  # smaller for a quick look
MANY = 1500  # activities of the lead whose pages are timed
PER_THREAD = 6  # activities per conversation
REPEAT = 40
RUNS = 7
CHUNK = 20_000
CLASSIFY = 3000
DOMAIN = "bench.example"
REP = f"rep0@{DOMAIN}"
START = dt.datetime.fromtimestamp(START_MS / 1000, dt.UTC)  # the batch's mail, from here
NOW = START + dt.timedelta(hours=12)
# The rules before the change the timed rescore applies: a reply was worth 8 points.
BEFORE = tuple(
    Rule(r.key, r.name, r.trigger, 8, r.half_life_days, r.cap, r.period_days, r.within_hours)
    if r.key == "reply"
    else r
    for r in DEFAULT_RULES
)
TITLES = ("CEO", "VP Sales", "Head of Operations", "Analyst", "Engineer", "Office manager", "")
TOPICS = ("Q3 renewal", "Pilot for the data team", "Pricing", "Security questionnaire")


class _Rows:
    """Bulk rows with explicit ids, inserted CHUNK at a time."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.ids = {"thread": 0, "message": 0, "activity": 0}
        parents_first = (Thread, ThreadLead, Message, Activity)
        self.rows: dict[Any, list[dict[str, Any]]] = {m: [] for m in parents_first}

    def next(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    def add(self, model: Any, row: dict[str, Any]) -> None:
        self.rows[model].append(row)
        if model is Activity and len(self.rows[Activity]) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for model, rows in self.rows.items():  # parents first
            if rows:
                self.conn.execute(insert(model), rows)
                rows.clear()


def _activities(
    rng: random.Random, count: int, days: int
) -> list[tuple[ActivityKind, dt.datetime, dict[str, Any]]]:
    """A lead's history: mostly replies (quick and slow), a first inquiry for some,
    meetings, the odd out-of-office, bounce or unsubscribe request."""
    out: list[tuple[ActivityKind, dt.datetime, dict[str, Any]]] = []
    first = NOW - dt.timedelta(days=days)
    if rng.random() < 0.3:
        out.append((ActivityKind.inquiry, first, {"inbox": f"sales@{DOMAIN}"}))
    for _ in range(count):
        at = NOW - dt.timedelta(minutes=rng.randint(60, days * 1440))
        roll = rng.random()
        if roll < 0.78:
            latency = rng.choice((rng.randint(300, 86_000), rng.randint(90_000, 900_000)))
            answered = at - dt.timedelta(seconds=latency)
            out.append((ActivityKind.reply, at, {"latency_seconds": latency,
                                                 "answered_at": answered.isoformat()}))  # fmt: skip
        elif roll < 0.88:
            meeting = {"status": "accepted", "attendee": None, "summary": "Demo",
                       "starts": None, "uid": f"u{at.timestamp()}", "source": "ics"}  # fmt: skip
            out.append((ActivityKind.meeting, at, meeting))
        elif roll < 0.95:
            back = (at + dt.timedelta(days=7)).date().isoformat()
            out.append((ActivityKind.auto_reply, at, {"return_date": back}))
        elif roll < 0.985:
            hard = rng.random() < 0.5
            out.append((ActivityKind.bounce, at, {
                "type": "hard" if hard else "soft",
                "reason": "userunknown" if hard else "mailboxfull",
                "status": "5.1.1" if hard else "4.2.2", "recipient": "",
                "diagnostic": "550 5.1.1 User unknown" if hard else "452 4.2.2 Mailbox full",
                "original_message_id": None, "original_id": None,
            }))  # fmt: skip
        else:
            out.append((ActivityKind.unsubscribe, at, {"source": "reply"}))
    return out


def seed(url: str) -> dict[str, Any]:
    rng = random.Random(3)
    db = Database(url)
    with db.session() as s:
        ws = create_workspace(s, "Bench", DOMAIN)
        ws.lead_inboxes = [f"sales@{DOMAIN}"]
        member = add_member(s, ws, REP, Role.admin, "Rep")
        box = Mailbox(workspace_id=ws.id, member_id=member.id, email=REP)
        s.add(box)
        stage_id = s.scalars(select(Stage.id).where(Stage.workspace_id == ws.id)).first()
        companies = [
            Company(workspace_id=ws.id, name=f"Company {i}", industry="Software", size="51-200")
            for i in range(2000)
        ]
        s.add_all(companies)
        s.flush()
        ws_id, member_id, box_id = ws.id, member.id, box.id
        company_ids = [c.id for c in companies]
    with db.engine.begin() as conn:
        for start in range(0, LEADS, CHUNK):
            leads, emails = [], []
            for i in range(start, min(start + CHUNK, LEADS)):
                email = f"p{i}@c{i % 2000}.example"
                bant = rng.random() < 0.2
                leads.append({
                    "id": i + 1, "workspace_id": ws_id, "email": email, "name": f"Person {i}",
                    "company_id": company_ids[i % 2000], "owner_id": member_id,
                    "stage_id": stage_id, "score": 0, "currency": "USD", "source": "mail",
                    "title": rng.choice(TITLES), "budget": "50k" if bant else None,
                    "authority": "signs" if bant else None, "need": "reporting" if bant else None,
                    "timeline": "Q1" if bant else None, "search_text": f"person {i} {email}",
                    "created_at": NOW, "updated_at": NOW,
                })  # fmt: skip
                emails.append({"workspace_id": ws_id, "lead_id": i + 1, "email": email})
            conn.execute(insert(Lead), leads)
            conn.execute(insert(LeadEmail), emails)
        rows = _Rows(conn)
        for lead in range(1, LEADS + 1):
            many = lead == 1
            history = _activities(rng, MANY if many else rng.randint(2, 12), 730 if many else 120)
            email = f"p{lead - 1}@c{(lead - 1) % 2000}.example"
            history.sort(key=lambda h: h[1])
            for n, (kind, at, detail) in enumerate(history):
                if n % PER_THREAD == 0:  # a new conversation
                    thread = rows.next("thread")
                    subject = rng.choice(TOPICS)
                    last = history[min(n + PER_THREAD, len(history)) - 1][1]
                    rows.add(Thread, {"id": thread, "workspace_id": ws_id, "mailbox_id": box_id,
                                      "gmail_id": f"t{thread:x}", "subject": subject,
                                      "snippet": "", "primary_lead_id": lead,
                                      "primary_by_rep": False, "is_private": False,
                                      "last_message_at": last})  # fmt: skip
                    rows.add(ThreadLead, {"workspace_id": ws_id, "thread_id": thread,
                                          "lead_id": lead, "source": "mail"})  # fmt: skip
                if kind is ActivityKind.bounce:
                    detail["recipient"] = email
                msg = rows.next("message")
                rows.add(Message, {"id": msg, "workspace_id": ws_id, "mailbox_id": box_id,
                                   "thread_id": thread, "gmail_id": f"m{msg:x}",
                                   "rfc_message_id": f"<m{msg}@c.example>",
                                   "direction": Direction.inbound, "from_addr": email,
                                   "to_addrs": REP, "subject": f"Re: {subject}",
                                   "snippet": "Thanks, sounds good", "sent_at": at,
                                   "label_ids": ["INBOX"], "body_text": "Thanks, sounds good.",
                                   "kind": MessageKind.person})  # fmt: skip
                rows.add(Activity, {"id": rows.next("activity"), "workspace_id": ws_id,
                                    "lead_id": lead, "kind": kind, "occurred_at": at,
                                    "message_id": msg, "detail": detail})  # fmt: skip
        rows.flush()
    finish_seed(db.engine)
    seeded = {"ws": ws_id, "member": member_id, "box": box_id,
              "activities": rows.ids["activity"], "messages": rows.ids["message"]}  # fmt: skip
    # The events as stored before the rule change: a first rescore, under the old rules.
    ids = list(range(1, LEADS + 1))
    for start in range(0, LEADS, jobs.RESCORE_STEP):
        with db.session() as s:
            rescore(s, ws_id, ids[start : start + jobs.RESCORE_STEP], NOW, rules=BEFORE)
    db.dispose()
    return seeded


def _timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - t0, time.process_time() - c0


def rescore_figures(url: str, ws: int) -> dict[str, Any]:
    db = Database(url)
    with db.session() as s:
        events_before = s.scalar(select(func.count()).select_from(ScoreEvent))
    done, wall, cpu = _timed(lambda: jobs.rescore_workspace(db, ws, NOW))
    _, wall2, cpu2 = _timed(lambda: jobs.rescore_workspace(db, ws, NOW))
    with db.session() as s:
        events = s.scalar(select(func.count()).select_from(ScoreEvent))
        temps: dict[Temperature | None, int] = dict(
            s.execute(select(Lead.temperature, func.count()).group_by(Lead.temperature))
            .tuples()
            .all()
        )
    db.dispose()
    return {
        "leads": done,
        "score_events_before": events_before,
        "score_events": events,
        "temperatures": {str(k.value if k else None): v for k, v in temps.items()},
        "rescore_s": round(wall, 2),
        "rescore_cpu_s": round(cpu, 2),
        "rescore_unchanged_s": round(wall2, 2),
        "rescore_unchanged_cpu_s": round(cpu2, 2),
        "target_rescore_s": 5,
    }


def _batch_mail() -> list[dict[str, Any]]:
    """500 messages as Gmail returns them: for 200 leads our note and their answer, and
    an out-of-office reply (50) or a hard bounce (50) for 100 more."""
    mail: list[dict[str, Any]] = []
    for n in range(200):
        lead = f"p{n * 7}@c{(n * 7) % 2000}.example"
        ours = f"<o{n}@{DOMAIN}>"
        mail.append(fetched(message(f"From: Rep <{REP}>", f"To: {lead}", "Subject: Pricing",
                                    f"Message-ID: {ours}", body="Here are the prices."),
                            thread=f"b{n}", minute=n, sent=True))  # fmt: skip
        mail.append(fetched(message(f"From: Person <{lead}>", f"To: {REP}", "Subject: Re: Pricing",
                                    f"In-Reply-To: {ours}", f"References: {ours}",
                                    f"Message-ID: <a{n}@c.example>", body="Looks good."),
                            thread=f"b{n}", minute=n + 90))  # fmt: skip
    for n in range(200, 300):
        lead = f"p{n * 7}@c{(n * 7) % 2000}.example"
        raw = (
            out_of_office(lead, REP, "Automatic reply: Pricing",
                          "I am out of the office until 7 January.",
                          **{"Auto-Submitted": "auto-replied"})
            if n % 2
            else gmail_bounce(REP, lead, f"<o{n}@{DOMAIN}>", status="5.1.1",
                              diagnostic=f"550 5.1.1 <{lead}>: User unknown")
        )  # fmt: skip
        mail.append(fetched(raw, thread=f"x{n}", minute=n))
    return mail


def batch_figures(url: str, box_id: int) -> dict[str, Any]:
    db = Database(url)
    spent: list[tuple[float, float]] = []

    def timed_score(batch: Batch) -> None:
        _, wall, cpu = _timed(lambda: score_leads(batch))
        spent.append((wall * 1000, cpu * 1000))

    steps = SyncSteps(batch=(capture_mail, detect_signals, timed_score, stages_from_labels))
    mail = _batch_mail()
    now = NOW
    for _ in range(RUNS):
        with db.session() as s:
            box = s.get_one(Mailbox, box_id)
            added = store_fetched(s, box, mail, now, steps)
            assert added == len(mail), added
            s.rollback()
    db.dispose()
    return {
        "batch_messages": len(mail),
        "scoring_ms_per_batch": round(statistics.median(w for w, _ in spent), 1),
        "scoring_cpu_ms_per_batch": round(statistics.median(c for _, c in spent), 1),
        "target_scoring_ms_per_batch": 50,
    }


def page_figures(url: str, tmp: Path, member_id: int) -> dict[str, Any]:
    # What the seed and the rescores left in this process is no server's: frozen, so that
    # a full collection in a timed request (a tenth of a second) does not walk it.
    gc.collect()
    gc.freeze()
    try:
        return _page_figures(url, tmp, member_id)
    finally:
        gc.unfreeze()


def _page_figures(url: str, tmp: Path, member_id: int) -> dict[str, Any]:
    key = Fernet.generate_key().decode()
    app = create_app(Settings(env="test", database_url=url, instance_dir=tmp,
                              secret_key="b" * 40, token_key=key))  # fmt: skip
    client = app.test_client()
    timing.sign_in(client, member_id)
    urls = ["/leads/1", "/leads/1/score"]
    timings = timing.time_urls(client, urls, REPEAT)
    summary = timing.summary(timings)
    with app.extensions["inboxcrm.db"].session() as s:
        events = s.scalar(select(func.count()).where(ScoreEvent.lead_id == 1))
    app.extensions["inboxcrm.db"].dispose()
    return {
        "lead_page_events": events,
        "lead_page_p95_ms": max(timing.p95(t.wall_ms) for t in timings.values()),  # the slower
        "lead_page_cpu_p95_ms": summary["cpu_p95_ms"],
        "lead_page_p95_ms_by_url": summary["p95_ms_by_url"],
        "target_lead_page_p95_ms": 50,
    }


def classify_figures() -> dict[str, Any]:
    raws = sample(CLASSIFY)
    _, wall, cpu = _timed(lambda: [read_signals(parse_raw(raw), NOW) for raw in raws])
    return {
        "classify_msgs_per_s": round(CLASSIFY / wall),
        "classify_msgs_per_cpu_s": round(CLASSIFY / cpu),
        "target_classify_msgs_per_s": 1000,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as url:
        seeded, seed_s, _ = _timed(lambda: seed(url))
        result: dict[str, Any] = {
            "benchmark": "scoring",
            "database": dialect(),
            "activities": seeded["activities"],
            "seed_s": round(seed_s, 1),
        }
        result.update(rescore_figures(url, seeded["ws"]))
        result.update(batch_figures(url, seeded["box"]))
        result.update(page_figures(url, Path(tmp), seeded["member"]))
        result.update(classify_figures())
        result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

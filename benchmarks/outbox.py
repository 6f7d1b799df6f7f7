"""The outbox under faults, kills, caps and an outage (issue #15).

Prints one JSON object:
- sends, duplicates, lost (targets 0 and 0): SENDS sends (INBOXCRM_BENCH_SENDS, default
  1,000) over 10 mailboxes, dispatched by real `inboxcrm outbox dispatch` processes (two at
  a time) that are SIGKILLed at random moments, while random faults are armed in the
  sandbox's Gmail: answers lost after the call applied (dropped connection, 500), 503s
  before it, slow calls (a kill lands inside them), and half the rounds with Gmail
  rewriting Message-IDs. After each round the dead processes' leases are made to run out
  (as five minutes would). duplicates: messages in SENT beyond one per Send (by the token
  header); lost: Sends not marked sent, or marked sent with nothing in SENT.
- cap_exceeded (target 0), cap_utilization (target >= 0.99): a simulated day and a half of
  clock ticks (every DISPATCH_TICK) for two mailboxes with more queued than their caps, a
  consumer Gmail one (cap 400) and a Workspace one (cap 1,600), default random gaps;
  cap_exceeded counts sends beyond the cap in any rolling 24 hours, cap_utilization is
  sends in the first 24 hours over the cap (the lower of the two mailboxes).
- burst_max_per_min (target <= 2, the 30-90 s gap): after a simulated six-hour outage with
  sends due all along, the most sends of one mailbox in any minute over the next hour.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.sandbox

from benchmarks.sandbox import tokens
from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox, Role
from inboxcrm.accounts.service import add_member, connect_mailbox, create_workspace
from inboxcrm.config import load_settings
from inboxcrm.db import Database, utcnow
from inboxcrm.gmail.auth import SCOPES
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import create_lead
from inboxcrm.migrate import upgrade
from inboxcrm.outbox.dispatch import dispatch_due
from inboxcrm.outbox.jobs import DISPATCH_TICK
from inboxcrm.outbox.models import ACTIVE, MailboxSending, Send, SendState, SourceKind
from inboxcrm.outbox.service import plan_send
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import start_sandbox
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from inboxcrm.tenancy import Scope

SENDS = int(os.environ.get("INBOXCRM_BENCH_SENDS", "1000"))
MAILBOXES = 10
DOMAIN = "northwind.io"
FAULTS = [
    {"kind": "drop", "after": True, "operation": "drafts.send"},
    {"kind": "error", "status": 500, "after": True, "operation": "drafts.send"},
    {"kind": "error", "status": 503, "operation": "drafts.send"},
    {"kind": "drop", "after": True, "operation": "drafts.create"},
    {"kind": "error", "status": 500, "after": True, "operation": "drafts.create"},
    {"kind": "error", "status": 503, "operation": "drafts.create"},
    {"kind": "slow", "delay": 0.4, "operation": "drafts.send"},
    {"kind": "slow", "delay": 0.4, "after": True, "operation": "drafts.send"},
    {"kind": "slow", "delay": 0.4, "operation": "drafts.create"},
    {"kind": "error", "status": 503, "operation": "messages.list"},
]


class Bench:
    def __init__(self, workdir: Path, name: str) -> None:
        self.sandbox = start_sandbox(quota_units_per_minute=0, daily_send_limit=1_000_000)
        self.url = self.sandbox.url
        self.database_url = f"sqlite:///{workdir / (name + '.sqlite3')}"
        self.env = {
            "INBOXCRM_ENV": "test",
            "INBOXCRM_DATABASE_URL": self.database_url,
            "INBOXCRM_TOKEN_KEY": Fernet.generate_key().decode(),
            "INBOXCRM_SECRET_KEY": "bench-" + "x" * 40,
            "INBOXCRM_LOG_LEVEL": "ERROR",
            "INBOXCRM_GOOGLE_CLIENT_ID": DEFAULT_CLIENT_ID,
            "INBOXCRM_GOOGLE_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "INBOXCRM_GOOGLE_API_ROOT": self.url,
            "INBOXCRM_GOOGLE_TOKEN_URI": f"{self.url}/token",
        }
        upgrade(self.database_url)
        self.database = Database(self.database_url)
        self.runtime = Runtime(self.database, load_settings(self.env), workers=1)

    def control(self, path: str, body: dict[str, Any]) -> None:
        import requests

        requests.post(f"{self.url}/_sandbox/{path}", json=body, timeout=30).raise_for_status()

    def mailboxes(self, emails: list[str], gap: int | None = None) -> list[int]:
        box = TokenBox(self.env["INBOXCRM_TOKEN_KEY"])
        ids = []
        with self.database.session() as session:
            workspace = create_workspace(session, f"Team {random.random()}", None)
            for email in emails:
                self.control("accounts", {"email": email})
                token = tokens(self.url, " ".join(SCOPES), email)
                expiry = utcnow() + dt.timedelta(seconds=int(token["expires_in"]))
                grant = json.dumps(
                    {
                        "token": token["access_token"],
                        "refresh_token": token["refresh_token"],
                        "expiry": expiry.replace(tzinfo=None).isoformat() + "Z",
                    }
                )
                member = add_member(session, workspace, email, Role.rep, email.split("@")[0])
                mailbox = connect_mailbox(
                    session, member, email, box.seal(grant), frozenset(SCOPES)
                )
                session.flush()
                ids.append(mailbox.id)
        return ids

    def plan(self, mailbox_id: int, count: int, due: dt.datetime, spread: float = 0.0) -> None:
        with self.database.session() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            scope = Scope(session, mailbox.workspace_id)
            emails = [f"l{mailbox_id}x{i}@customer{i % 50}.example" for i in range(count)]
            self.control("contacts", {"emails": emails})
            for i, email in enumerate(emails):
                lead = create_lead(scope, LeadCreate(email=email), mailbox.member, due)
                plan_send(
                    session,
                    source_kind=SourceKind.campaign,
                    source_id=f"b{mailbox_id}",
                    lead=lead,
                    mailbox=mailbox,
                    subject=f"Hello {i}",
                    text="A short note.",
                    due_at=due + dt.timedelta(seconds=spread * i / max(count, 1)),
                    stale_after=dt.timedelta(days=30),
                )

    def gaps(self, seconds: int | None) -> None:
        with self.database.session() as session:
            session.execute(
                update(MailboxSending).values(gap_min_seconds=seconds, gap_max_seconds=seconds)
            )

    def sent_tokens(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        with self.sandbox.state.lock:
            for account in self.sandbox.state.accounts.values():
                for msg in account.mailbox.messages.values():
                    if "SENT" in msg.label_ids:
                        seen[msg.parsed.header("x-inboxcrm-send")] += 1
        return seen

    def stop(self) -> None:
        self.database.dispose()
        self.sandbox.stop()


def progress(bench: Bench) -> tuple[int, int]:
    """Sends no longer planned, and sends with a draft: any step of a dispatcher moves it."""
    with bench.database.session() as session:
        moved = session.scalar(select(func.count()).where(Send.state != SendState.planned))
        drafted = session.scalar(select(func.count()).where(Send.draft_id.is_not(None)))
    return int(moved or 0), int(drafted or 0)


def exactly_once(workdir: Path) -> dict[str, Any]:
    bench = Bench(workdir, "faults")
    try:
        ids = bench.mailboxes([f"rep{i}@{DOMAIN}" for i in range(MAILBOXES)])
        for mailbox_id in ids:
            bench.plan(mailbox_id, SENDS // MAILBOXES, utcnow() - dt.timedelta(minutes=1))
        bench.gaps(0)  # no gaps: the dispatchers race for every mailbox
        rounds = kills = 0
        started = time.perf_counter()
        while True:
            with bench.database.session() as session:
                left = session.scalar(select(Send.id).where(Send.state.in_(ACTIVE)).limit(1))
            if left is None or rounds > 2000:
                break
            rounds += 1
            before = progress(bench)
            bench.control("options", {"rewrite_message_id": rounds % 2 == 0})
            for fault in random.sample(FAULTS, 3):
                bench.control("faults", {**fault, "count": random.randint(1, 3)})
            command = [sys.executable, "-c", "from inboxcrm.cli import main; main()"]
            log = (workdir / "dispatch.log").open("ab")
            outside = {k: v for k, v in os.environ.items() if not k.startswith("INBOXCRM_")}
            processes = [
                subprocess.Popen(
                    [*command, "outbox", "dispatch"],
                    env={**outside, **bench.env},
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                for _ in range(2)
            ]
            # Kill at a random moment once they are sending (starting Python takes a while).
            deadline = time.monotonic() + 60
            while progress(bench) == before and time.monotonic() < deadline:
                if all(p.poll() is not None for p in processes):
                    break
                time.sleep(0.02)
            time.sleep(random.uniform(0.0, 1.5))
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                process.wait()
            time.sleep(0.5)  # slow answers still under way finish in the sandbox
            import requests

            requests.delete(f"{bench.url}/_sandbox/faults", timeout=10)
            with bench.database.session() as session:  # the leases run out, as 5 min would
                now = utcnow()
                session.execute(
                    update(Send).where(Send.state.in_(ACTIVE), Send.due_at > now).values(due_at=now)
                )
                session.execute(update(MailboxSending).values(next_slot_at=None))
        seen = bench.sent_tokens()
        with bench.database.session() as session:
            rows = session.execute(select(Send.state, Send.token)).all()
        duplicates = sum(n - 1 for n in seen.values() if n > 1)
        lost = sum(
            1 for state, token in rows if state is not SendState.sent or not seen[token or ""]
        )
        return {
            "sends": len(rows),
            "duplicates": duplicates,
            "lost": lost,
            "sent_messages_in_gmail": sum(seen.values()),
            "rounds": rounds,
            "kills": kills,
            "faults_seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        bench.stop()


def _sends_at(bench: Bench, mailbox_id: int) -> list[dt.datetime]:
    with bench.database.session() as session:
        return sorted(
            session.scalars(
                select(Send.committed_at).where(
                    Send.mailbox_id == mailbox_id, Send.state == SendState.sent
                )
            )
        )


def _most_within(times: list[dt.datetime], span: dt.timedelta) -> int:
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= span:
            start += 1
        most = max(most, end - start + 1)
    return most


def _simulate(bench: Bench, start: dt.datetime, hours: float) -> None:
    """The clock's dispatch tick every DISPATCH_TICK of simulated time; idle ticks skipped
    to the next one at or after the earliest slot (they would find nothing)."""
    now, end = start, start + dt.timedelta(hours=hours)
    tick = DISPATCH_TICK
    while now < end:
        tally = dispatch_due(bench.runtime, now)
        if tally.mailboxes:
            now += tick
            continue
        with bench.database.session() as session:
            slots = [
                at for at in session.scalars(select(MailboxSending.next_slot_at)) if at is not None
            ]
        wake = min(slots) if slots else end
        steps = max(1, -(-(wake - now) // tick))  # whole ticks
        now += tick * steps


def caps_and_bursts(workdir: Path) -> dict[str, Any]:
    bench = Bench(workdir, "caps")
    try:
        consumer, workspace = bench.mailboxes(["rep@gmail.com", f"rep@{DOMAIN}"])
        start = utcnow()
        bench.plan(consumer, 500, start)
        bench.plan(workspace, 1800, start)
        _simulate(bench, start, 36)
        figures: dict[str, Any] = {}
        worst_use, exceeded = 1.0, 0
        for mailbox_id, cap in ((consumer, 400), (workspace, 1600)):
            times = _sends_at(bench, mailbox_id)
            exceeded += max(0, _most_within(times, dt.timedelta(hours=24)) - cap)
            first_day = sum(1 for at in times if at < start + dt.timedelta(hours=24))
            worst_use = min(worst_use, first_day / cap)
            figures[f"sent_first_24h_cap_{cap}"] = first_day
        figures["cap_exceeded"] = exceeded
        figures["cap_utilization"] = round(worst_use, 4)
    finally:
        bench.stop()
    bench = Bench(workdir, "outage")
    try:
        ids = bench.mailboxes([f"rep{i}@{DOMAIN}" for i in range(3)])
        now = utcnow()
        for mailbox_id in ids:  # due all through a six-hour outage
            bench.plan(mailbox_id, 200, now - dt.timedelta(hours=6), spread=6 * 3600)
        _simulate(bench, now, 1)
        figures["burst_max_per_min"] = max(
            _most_within(_sends_at(bench, m), dt.timedelta(minutes=1)) for m in ids
        )
        figures["sent_in_hour_after_outage"] = sum(len(_sends_at(bench, m)) for m in ids)
    finally:
        bench.stop()
    return figures


def main() -> None:
    random.seed(int(os.environ.get("INBOXCRM_BENCH_SEED", "15")))
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures = exactly_once(workdir)
        figures.update(caps_and_bursts(workdir))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

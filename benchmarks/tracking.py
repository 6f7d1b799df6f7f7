"""The outbox's public URLs on SQLite, through the real app (Flask test client, the app
trusting one proxy as the demo does). Prints one JSON object:

- `tracking_p95_ms` (target < 5): the open pixel (GET and HEAD) and click redirects,
  each one INSERT; `tracking_busy_p95_ms`: the same while another connection holds
  SQLite's write lock, so every hit waits in memory (`busy_hits_written_after` says the
  flusher wrote them all once the lock went);
- `unsubscribe_to_suppressed_ms` p95 (target < 1,000): from the one-click POST until a
  dispatcher's `suppressed()` in another session sees the address;
- a synthetic audience's hits, classified by the clock's job: `bot_opens_counted_as_person`
  and `scanner_clicks_counted_as_person` (target 0), `person_opens_kept` and
  `person_clicks_kept` (share of the people's first opens and clicks counted, target 1.0).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select

from inboxcrm import create_app
from inboxcrm.accounts.models import Role
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.schemas import LeadCreate
from inboxcrm.leads.service import create_lead
from inboxcrm.migrate import upgrade
from inboxcrm.outbox.hits import HitWriter
from inboxcrm.outbox.jobs import classify_hits
from inboxcrm.outbox.models import HitKind, TrackingHit, Verdict
from inboxcrm.outbox.suppression import suppressed
from inboxcrm.outbox.tracking import Tracked, track
from inboxcrm.outbox.unsubscribe import Recipient
from inboxcrm.tenancy import Scope

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.timing
from benchmarks.timing import p95

BASE = "http://127.0.0.1:5000"
REQUESTS = 2000
BUSY_REQUESTS = 200
UNSUBSCRIBES = 200
SENDS = 300
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
HTML = '<html><body><a href="https://vandelay.example/offer">offer</a></body></html>'


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        settings = Settings(
            env="test",
            instance_dir=Path(tmp),
            database_url=url,
            secret_key="bench-secret-" + "x" * 32,
            token_key=Fernet.generate_key().decode(),
            base_url=BASE,
            trusted_proxies=1,
        )
        app = create_app(settings)
        database: Database = app.extensions["inboxcrm.db"]
        secret = str(app.secret_key)
        with database.session() as s:
            ws = create_workspace(s, "Bench", "northwind.example")
            rep = add_member(s, ws, "ava@northwind.example", Role.rep, "Ava")
            leads = [
                create_lead(
                    Scope(s, ws.id), LeadCreate(email=f"p{i}@c{i % 50}.example"), rep, utcnow()
                ).id
                for i in range(max(UNSUBSCRIBES, SENDS))
            ]
            workspace_id = ws.id
        client = app.test_client()
        rng = random.Random(5)
        result: dict[str, object] = {}

        # --- the pixel and the redirect -------------------------------------------------
        sent = Tracked(workspace_id, leads[0], "s0", utcnow() - dt.timedelta(hours=3))
        pixel = f"/t/o/{sent.token(secret, HitKind.open)}.gif"
        link = track(HTML, BASE, secret, sent).split('href="', 1)[1].split('"', 1)[0]
        link = link.removeprefix(BASE)
        paths = [(pixel, "GET"), (pixel, "HEAD"), (link, "GET")]
        for _ in range(50):  # warm up
            client.get(pixel)
        wall, cpu = [], []
        for i in range(REQUESTS):
            path, method = paths[i % 3]
            start, start_cpu = time.perf_counter(), time.process_time()
            answer = client.open(
                path,
                method=method,
                headers={"User-Agent": CHROME, "X-Forwarded-For": "203.0.113.5"},
            )
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            assert answer.status_code in (200, 302)
        result["tracking_p95_ms"] = p95(wall)
        result["tracking_cpu_p95_ms"] = p95(cpu)
        result["tracking_p50_ms"] = round(sorted(wall)[len(wall) // 2], 2)

        # --- while another connection holds the write lock ------------------------------
        writer: HitWriter = app.extensions["inboxcrm.hits"]
        before = _count(database)
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        busy = []
        for _ in range(BUSY_REQUESTS):
            start = time.perf_counter()
            answer = client.get(pixel, headers={"User-Agent": CHROME})
            busy.append((time.perf_counter() - start) * 1000)
            assert answer.status_code == 200
        lock.execute("ROLLBACK")
        lock.close()
        writer.flush()
        result["tracking_busy_p95_ms"] = p95(busy)
        result["busy_hits_written_after"] = _count(database) - before == BUSY_REQUESTS

        # --- one-click unsubscribe until a dispatcher sees it ---------------------------
        took = []
        with database.sessions() as dispatcher:
            for lead in leads[:UNSUBSCRIBES]:
                address = f"p{leads.index(lead)}@c{leads.index(lead) % 50}.example"
                token = Recipient(workspace_id, lead, address, 1, f"u{lead}").token(secret)
                start = time.perf_counter()
                client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
                while True:
                    dispatcher.rollback()  # a fresh read, as each send's check is
                    if suppressed(dispatcher, workspace_id, [address]):
                        break
                took.append((time.perf_counter() - start) * 1000)
        result["unsubscribe_to_suppressed_ms"] = p95(took)

        # --- a synthetic audience, classified --------------------------------------------
        with database.session() as s:
            s.query(TrackingHit).delete()
        truth: dict[str, str] = {}  # who is behind each send's hits
        for n in range(SENDS):
            lead = leads[n]
            plan = rng.choice(
                ["person", "apple", "gmail_proxy", "gmail_prefetch", "scanner", "quiet"]
            )
            delay = {
                "person": rng.uniform(600, 172800),
                "apple": rng.uniform(2, 900),
                "gmail_proxy": rng.uniform(300, 86400),
                "gmail_prefetch": rng.uniform(1, 50),
                "scanner": rng.uniform(1, 15),
                "quiet": 0,
            }[plan]
            sent = Tracked(workspace_id, lead, f"send{n}", utcnow() - dt.timedelta(seconds=delay))
            tracked = track(HTML, BASE, secret, sent)
            click = tracked.split('href="', 1)[1].split('"', 1)[0].removeprefix(BASE)
            trap = tracked.split('href="', 2)[2].split('"', 1)[0].removeprefix(BASE)
            pixel = f"/t/o/{sent.token(secret, HitKind.open)}.gif"
            truth[sent.send] = plan
            if plan == "person":
                ip = f"198.51.100.{rng.randrange(1, 250)}"
                for _ in range(rng.randint(1, 3)):
                    client.get(pixel, headers={"User-Agent": CHROME, "X-Forwarded-For": ip})
                if rng.random() < 0.5:
                    client.get(click, headers={"User-Agent": CHROME, "X-Forwarded-For": ip})
            elif plan == "apple":
                client.get(
                    pixel,
                    headers={
                        "User-Agent": "Mozilla/5.0",
                        "X-Forwarded-For": f"17.58.{rng.randrange(256)}.9",
                    },
                )
            elif plan in ("gmail_proxy", "gmail_prefetch"):
                client.get(
                    pixel, headers={"User-Agent": GMAIL_PROXY, "X-Forwarded-For": "66.249.84.7"}
                )
            elif plan == "scanner":
                ip = f"40.94.{rng.randrange(256)}.3"
                for path, method in (
                    (click, "HEAD"),
                    (click, "GET"),
                    (trap, "GET"),
                    (pixel, "GET"),
                ):
                    client.open(
                        path, method=method, headers={"User-Agent": CHROME, "X-Forwarded-For": ip}
                    )
        classify_hits(database, utcnow() + dt.timedelta(seconds=1))
        with database.session() as s:
            hits = s.scalars(select(TrackingHit).order_by(TrackingHit.id)).all()
            bot_opens = scanner_clicks = 0
            person_first: dict[tuple[str, HitKind], bool] = {}
            for hit in hits:
                plan = truth[hit.send_ref]
                if plan != "person":
                    if hit.verdict is Verdict.person and hit.kind is HitKind.open:
                        bot_opens += 1
                    if hit.verdict is Verdict.person and hit.kind is not HitKind.open:
                        scanner_clicks += 1
                    continue
                key = (hit.send_ref, hit.kind)
                person_first.setdefault(key, hit.verdict is Verdict.person)
            opens = [v for (_, kind), v in person_first.items() if kind is HitKind.open]
            clicks = [v for (_, kind), v in person_first.items() if kind is HitKind.click]
            result.update(
                audience_hits=len(hits),
                bot_opens_counted_as_person=bot_opens,
                scanner_clicks_counted_as_person=scanner_clicks,
                person_opens_kept=round(sum(opens) / max(1, len(opens)), 3),
                person_clicks_kept=round(sum(clicks) / max(1, len(clicks)), 3),
                verdicts={v.value: sum(1 for h in hits if h.verdict is v) for v in Verdict},
            )
        writer.dispose()
        app.extensions["inboxcrm.db"].dispose()
    # Wall times on a shared machine wait on the other processes: the CPU time says what
    # a hit costs, the load how crowded the machine was.
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


def _count(database: Database) -> int:
    with database.session() as s:
        return len(s.scalars(select(TrackingHit.id)).all())


if __name__ == "__main__":
    main()

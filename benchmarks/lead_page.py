"""p50/p95 of the lead page and of /api/v1/leads/<id>/messages for a lead with 2,000
messages, in a workspace of 100,000 leads and 1,000,000 messages (target p95 < 50 ms), on
SQLite, or on PostgreSQL when INBOXCRM_BENCH_DATABASE_URL or INBOXCRM_DATABASE_URL names a
server (see benchmarks/database.py).

Prints one JSON object. Rows are bulk-inserted; the lead's mail sits in two team mailboxes
(so the timeline deduplicates copies), then each URL is requested repeatedly through the
real app: routing, auth, privacy, queries, template.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import insert, select

from inboxcrm import create_app
from inboxcrm.accounts.models import Mailbox, Role, Visibility
from inboxcrm.accounts.service import add_member, create_api_token, create_workspace
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Company, Lead, LeadEmail, ThreadLead
from inboxcrm.mail.models import Direction, Message, MessageKind, Thread
from inboxcrm.stages.models import Stage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.timing
from benchmarks import timing
from benchmarks.database import bench_database, dialect, finish_seed

LEADS = 100_000
MESSAGES = 1_000_000
PER_THREAD = 5
# The lead under test: 250 threads of 6 in the viewer's mailbox, and a colleague's copies of
# 100 of those conversations (5 messages each): 2,000 message rows, 1,500 distinct emails.
LEAD_THREADS, LEAD_PER_THREAD, COPIES, COPY_PER_THREAD = 250, 6, 100, 5
REPEAT = 40
CHUNK = 20_000
HTML = "<p>Hello {n},</p><p>Following up on the <b>pilot</b>: " + "details " * 40 + "</p>"


def _message(
    ws: int, box: int, thread: int, gmail: int, at: dt.datetime, rfc: str, inbound: bool
) -> dict[str, Any]:
    return {
        "workspace_id": ws,
        "mailbox_id": box,
        "thread_id": thread,
        "gmail_id": f"{gmail:x}",
        "rfc_message_id": rfc,
        "direction": Direction.inbound if inbound else Direction.outbound,
        "from_addr": "Lead Person <lead@customer.example>" if inbound else "rep@bench.example",
        "to_addrs": "rep@bench.example" if inbound else "Lead Person <lead@customer.example>",
        "cc_addrs": "",
        "subject": "Re: pilot",
        "snippet": "Following up on the pilot: details details details",
        "sent_at": at,
        "label_ids": ["INBOX"],
        "body_text": "Following up on the pilot.",
        "body_html": HTML,
        "attachments": [{"filename": "plan.pdf", "mime_type": "application/pdf", "size": 48213}]
        if gmail % 7 == 0
        else [],
        "size_estimate": 2000,
        "kind": MessageKind.person,
    }


def seed(url: str) -> tuple[int, int, str, int, int]:
    rng = random.Random(1)
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    db = Database(url)
    with db.session() as s:
        ws = create_workspace(s, "Bench")
        members = [
            add_member(s, ws, f"rep{i}@bench.example", Role.rep, f"Rep {i}") for i in range(8)
        ]
        members[0].timezone = "Europe/Paris"
        _row, token = create_api_token(s, members[0], "bench")
        boxes = [
            Mailbox(
                workspace_id=ws.id,
                member_id=m.id,
                email=m.email,
                visibility=Visibility.metadata if i == 7 else Visibility.full,
            )
            for i, m in enumerate(members)
        ]
        s.add_all(boxes)
        stage_ids = list(s.scalars(select(Stage.id).where(Stage.workspace_id == ws.id)))
        companies = [Company(workspace_id=ws.id, name=f"Company {i}") for i in range(2000)]
        s.add_all(companies)
        s.flush()
        ws_id, member_id = ws.id, members[0].id
        member_ids = [m.id for m in members]
        box_ids = [b.id for b in boxes]
        company_ids = [c.id for c in companies]
    with db.engine.begin() as conn:
        for start in range(0, LEADS, CHUNK):
            leads, emails = [], []
            for i in range(start, start + CHUNK):
                email = f"p{i}@c{i % 2000}.example"
                leads.append(
                    {
                        "id": i + 1,
                        "workspace_id": ws_id,
                        "email": email,
                        "name": f"Person {i}",
                        "company_id": company_ids[i % 2000],
                        "owner_id": rng.choice(member_ids),
                        "stage_id": rng.choice(stage_ids),
                        "score": rng.randint(0, 100),
                        "currency": "USD",
                        "source": "mail",
                        "first_inbound_at": now - dt.timedelta(days=90),
                        "first_response_at": now - dt.timedelta(days=90, hours=-3),
                        "last_contacted_at": now - dt.timedelta(minutes=rng.randint(0, 200_000)),
                        "search_text": f"person {i} {email}",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                emails.append({"workspace_id": ws_id, "lead_id": i + 1, "email": email})
            conn.execute(insert(Lead), leads)
            conn.execute(insert(LeadEmail), emails)

        lead_id = 1  # the lead under test
        thread_id = gmail = 0
        threads: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []

        def flush(final: bool = False) -> None:
            if threads and (final or len(messages) >= CHUNK):
                conn.execute(insert(Thread), threads)
                conn.execute(insert(ThreadLead), links)
                conn.execute(insert(Message), messages)
                threads.clear()
                links.clear()
                messages.clear()

        def add_thread(box: int, lead: int, start: dt.datetime, count: int, key: str) -> None:
            nonlocal thread_id, gmail
            thread_id += 1
            gmail += 1
            last = start + dt.timedelta(hours=count - 1)
            threads.append(
                {
                    "id": thread_id,
                    "workspace_id": ws_id,
                    "mailbox_id": box,
                    "gmail_id": f"{gmail:x}",
                    "subject": f"Pilot {key}",
                    "snippet": "Following up on the pilot",
                    "primary_lead_id": lead,
                    "primary_by_rep": False,
                    "is_private": False,
                    "last_message_at": last,
                }
            )
            links.append(
                {"workspace_id": ws_id, "thread_id": thread_id, "lead_id": lead, "source": "mail"}
            )
            for n in range(count):
                gmail += 1
                messages.append(
                    _message(
                        ws_id,
                        box,
                        thread_id,
                        gmail,
                        start + dt.timedelta(hours=n),
                        f"<{key}.{n}@customer.example>",
                        n % 2 == 0,
                    )
                )

        for t in range(LEAD_THREADS):
            start = now - dt.timedelta(days=LEAD_THREADS - t)
            add_thread(box_ids[0], lead_id, start, LEAD_PER_THREAD, f"L{t}")
            if t % (LEAD_THREADS // COPIES) == 0:
                add_thread(box_ids[1], lead_id, start, COPY_PER_THREAD, f"L{t}")
        lead_rows = LEAD_THREADS * LEAD_PER_THREAD + COPIES * COPY_PER_THREAD
        for t in range((MESSAGES - lead_rows) // PER_THREAD):
            start = now - dt.timedelta(minutes=rng.randint(0, 500_000))
            add_thread(rng.choice(box_ids), rng.randint(2, LEADS), start, PER_THREAD, f"T{t}")
            flush()
        flush(final=True)
    finish_seed(db.engine)
    db.dispose()
    return ws_id, member_id, token, lead_id, company_ids[0]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as url:
        started = time.perf_counter()
        _ws, member_id, token, lead_id, company_id = seed(url)
        seed_s = time.perf_counter() - started
        run(url, Path(tmp), seed_s, member_id, token, lead_id, company_id)


def run(
    url: str, tmp: Path, seed_s: float, member_id: int, token: str, lead_id: int, company_id: int
) -> None:
    app = create_app(
        Settings(
            env="test",
            database_url=url,
            instance_dir=tmp,
            secret_key="b" * 40,
            token_key=Fernet.generate_key().decode(),
        )
    )
    client = app.test_client()
    timing.sign_in(client, member_id)
    headers = {"Authorization": f"Bearer {token}"}

    first = client.get(f"/leads/{lead_id}")
    assert first.status_code == 200
    older = first.text.split("?older=", 1)[1].split("#", 1)[0]
    page_urls = [f"/leads/{lead_id}", f"/leads/{lead_id}?older={older}"]
    api_urls = [
        f"/api/v1/leads/{lead_id}/messages",  # 25 messages, with sanitized bodies
        f"/api/v1/leads/{lead_id}/messages?page=20",
    ]

    def measure(urls: list[str], **kw: object) -> dict[str, object]:
        return timing.measure(client, urls, REPEAT, **kw)

    shown = first.text.count("data-message=")
    result = {
        "benchmark": "lead_page",
        "leads": LEADS,
        "messages": MESSAGES,
        "lead_messages": LEAD_THREADS * LEAD_PER_THREAD + COPIES * COPY_PER_THREAD,
        "messages_on_first_page": shown,
        "database": dialect(),
        "requests_per_url": REPEAT,
        "seed_s": round(seed_s, 1),
        "page": measure(page_urls),
        "api": measure(api_urls, headers=headers),
        # The largest page a client may ask for: 100 bodies sanitized per request.
        "api_per_page_100": measure(
            [f"/api/v1/leads/{lead_id}/messages?per_page=100"], headers=headers
        ),
        "company_page": measure([f"/companies/{company_id}"]),
        "statements_by_url": {
            **timing.statements(client, [*page_urls, f"/companies/{company_id}"]),
            **timing.statements(client, api_urls, headers=headers),
        },
        "target_p95_ms": 50,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    app.extensions["inboxcrm.db"].dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

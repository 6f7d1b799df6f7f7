"""Local throughput of storing and capturing synced mail (leads, links, activities) on SQLite.

Prints one JSON object. 10,000 parsed messages (parsing has its own benchmark) go through
`store_messages` and `capture_messages` in batches of 500 committed one by one, as the sync
does: conversations of one to six messages between two team mailboxes and 3,000 outside
people (names, companies, free mail), long Cc lists, newsletters and no-reply senders, mail
to a lead inbox. Each person's address is parsed once first, as parsing the mail did.

Figures are messages per second for the whole batch loop, commits included: by the clock,
and by this process's CPU time (the machine may be shared; SQLite's commits wait on the
disk). `store_only` is the same loop without capture, for what capture adds. The target is
2,000 messages/s.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from inboxcrm.accounts.models import LeadPolicy, Mailbox, Role
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.db import Database
from inboxcrm.leads.capture.batch import capture_messages
from inboxcrm.leads.models import Activity, Lead, ThreadLead
from inboxcrm.mail.parse import ParsedMessage
from inboxcrm.mail.participants import Address, parse_addresses
from inboxcrm.mail.store import store_messages
from inboxcrm.mail.sync import CHUNK
from inboxcrm.migrate import upgrade

MESSAGES = 10_000
BATCH = CHUNK  # as the sync commits
PEOPLE = 3000
TEAM = ("ava@northwind.example", "ben@northwind.example")
FIRST = ["Ann", "Bob", "Carol", "José", "Zoë", "Łukasz", "Mei", "Søren", "Aïcha", "Dan"]
LAST = ["Smith", "Müller", "Lee", "O'Brien", "García", "Nakamura", "Dubois", "Ivanova"]
DOMAINS = [f"company{i}.example" for i in range(400)] + ["gmail.com", "client.co.uk"]
START = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)


def people(rng: random.Random) -> list[Address]:
    out = []
    for i in range(PEOPLE):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}{i}".replace("'", "")
        # As parse_message read them from the headers: validated and normalized.
        out += parse_addresses(f'"{last}, {first}" <{local}@{rng.choice(DOMAINS)}>')
    return out


def messages(rng: random.Random) -> dict[str, list[ParsedMessage]]:
    """Per mailbox, newest first as a full sync lists them."""
    pool = people(rng)
    boxes: dict[str, list[ParsedMessage]] = {box: [] for box in TEAM}
    n = 0
    thread = 0
    while n < MESSAGES:
        thread += 1
        box = rng.choice(TEAM)
        me = Address(box.split("@")[0].title(), box)
        person = rng.choice(pool)
        kind = rng.random()
        when = START + dt.timedelta(minutes=rng.randint(0, 150_000))
        for k in range(rng.randint(1, 6)):
            n += 1
            out = k % 2 == 1 if kind < 0.6 else k % 2 == 0
            cc = tuple(rng.sample(pool, rng.randint(1, 12))) if rng.random() < 0.2 else ()
            extra: dict[str, object] = {}
            sender, to = (me, (person,)) if out else (person, (me,))
            if kind > 0.9:  # newsletters and notifications
                sender = Address("News", f"news@list{thread % 20}.example")
                extra["list_unsubscribe"] = "<https://list.example/u>"
                out = False
            elif kind > 0.85:
                sender, out = Address("", f"no-reply@app{thread % 9}.example"), False
            elif kind > 0.8 and not out:
                to = (Address("Sales", "sales@northwind.example"),)
            boxes[box].append(
                ParsedMessage(
                    gmail_id=f"{n:016x}",
                    gmail_thread_id=f"{thread:016x}",
                    label_ids=("SENT",) if out else ("INBOX",),
                    sent_at=when + dt.timedelta(hours=k * 5),
                    rfc_message_id=f"<m{n}@bench.example>",
                    subject="Pricing",
                    snippet="Here is a line of a realistic business email body.",
                    from_=sender,
                    to=to,
                    cc=cc,
                    **extra,  # type: ignore[arg-type]
                )
            )
    for batch in boxes.values():
        batch.sort(key=lambda p: p.sent_at or START, reverse=True)
    return boxes


def run(policy: LeadPolicy, capture: bool = True) -> dict[str, float]:
    rng = random.Random(42)
    mail = messages(rng)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        db = Database(url)
        with db.session() as s:
            workspace = create_workspace(s, "Bench", "northwind.example")
            workspace.lead_policy = policy
            workspace.lead_inboxes = ["sales@northwind.example"]
            boxes = []
            for email in TEAM:
                member = add_member(s, workspace, email, Role.rep)
                boxes.append(Mailbox(workspace_id=workspace.id, member_id=member.id, email=email))
            s.add_all(boxes)
            s.flush()
            box_ids = {b.email: b.id for b in boxes}
            workspace_id = workspace.id
        now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        started, cpu = time.perf_counter(), time.process_time()
        total = 0
        for email, parsed in mail.items():
            for start in range(0, len(parsed), BATCH):
                with db.session() as s:
                    box = s.get_one(Mailbox, box_ids[email])
                    stored = store_messages(s, box, parsed[start : start + BATCH])
                    if capture:
                        capture_messages(s, workspace_id, stored.messages, now)
                    total += stored.added
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        with db.session() as s:
            counts = {
                name: s.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (
                    ("leads", Lead),
                    ("links", ThreadLead),
                    ("activities", Activity),
                )
            }
        db.dispose()
    return {
        "msgs_per_s": round(total / elapsed),
        "msgs_per_cpu_s": round(total / cpu),
        "messages": total,
        **counts,
    }


def main() -> None:
    conversations = run(LeadPolicy.conversations)
    all_mail = run(LeadPolicy.all_mail)
    store_only = run(LeadPolicy.conversations, capture=False)
    print(
        json.dumps(
            {
                "messages": conversations["messages"],
                "store_and_capture_msgs_per_s": conversations["msgs_per_s"],
                "store_and_capture_msgs_per_cpu_s": conversations["msgs_per_cpu_s"],
                "leads": conversations["leads"],
                "links": conversations["links"],
                "activities": conversations["activities"],
                "all_mail_msgs_per_s": all_mail["msgs_per_s"],
                "all_mail_msgs_per_cpu_s": all_mail["msgs_per_cpu_s"],
                "all_mail_leads": all_mail["leads"],
                "store_only_msgs_per_s": store_only["msgs_per_s"],
                "store_only_msgs_per_cpu_s": store_only["msgs_per_cpu_s"],
                "target_msgs_per_s": 2000,
            }
        )
    )


if __name__ == "__main__":
    main()

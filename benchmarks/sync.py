"""A full sync from the sandbox at Gmail's real per-user quota, and the local work alone.

Prints one JSON object:
- messages, seconds: a full sync of a mailbox of MESSAGES messages through the production
  path (sealed tokens, the real client library, our quota bucket, batches of 50).
- units_used, units_available, utilization: what the sandbox's quota bucket (Gmail's
  15,000 units a minute per user, full at the start) granted us, what it could have given
  from our first call to our last, and their ratio.
- rate_limited: calls the sandbox refused for quota, each retried; unhandled_429: rate
  limits that reached the result (a pass that ended throttled, a message skipped).
- lost, duplicated: messages Gmail lists that we did not store, and stored twice.

The local work: a full sync of LOCAL_MESSAGES varied messages (benchmarks/parse.py's) through
the sync engine (`sync_mailbox`: listing, a batch fetched ahead, parsing in the pool, store,
the sync steps, a commit per batch) from `LocalGmail`, which answers with the JSON text
Gmail sends (the sync has it decoded in the pool), without HTTP or quota: the ceiling our
own code puts on a sync. On SQLite, with cold caches as in a new process (the parse pool's workers
new too, started before the clock starts: in a real sync the first batch's fetch takes
longer than they take to start); the best of LOCAL_ROUNDS (the machine is shared):
- local_msgs_per_s: messages a second, wall clock: the figure that counts (target 2,000).
- local_cpu_msgs_per_s: messages a CPU second, this process and the pool's workers
  parsing added up; local_pool_cpu_share: the workers' part of it.
- local_parse_store_msgs_per_s: the same sync without the sync steps (wall clock).
- local_in_process_cpu_msgs_per_s, local_us_per_msg, local_share: the same work again in
  this process alone, one stage after another (decoding Gmail's JSON, parse, store, each
  sync step, commit): CPU microseconds a message per stage and each stage's share.

The sandbox runs in its own process, as in the demo. MESSAGES can be set with
INBOXCRM_BENCH_MESSAGES (0: the local work only); the default takes about two minutes.
"""

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' JSON helper

from benchmarks.parse import sample
from benchmarks.sandbox import tokens
from inboxcrm import addresses
from inboxcrm.accounts.connection import gmail_calls
from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox, Role, SyncState
from inboxcrm.accounts.service import add_member, connect_mailbox, create_workspace
from inboxcrm.config import load_settings
from inboxcrm.db import Database, utcnow
from inboxcrm.gmail.auth import SCOPES
from inboxcrm.gmail.results import Fetched, Page
from inboxcrm.mail import heap, participants
from inboxcrm.mail.models import Message
from inboxcrm.mail.parse import parse_message
from inboxcrm.mail.pool import pool_cpu_seconds, start_pool, stop_pool
from inboxcrm.mail.steps import NO_STEPS, Batch, SyncSteps
from inboxcrm.mail.store import store_messages
from inboxcrm.mail.sync import CHUNK, sync_mailbox
from inboxcrm.migrate import upgrade
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from inboxcrm.setup import SYNC_STEPS

USER = "ava.reed@northwind.io"
MESSAGES = int(os.environ.get("INBOXCRM_BENCH_MESSAGES", "6000"))
LOCAL_MESSAGES = 3000
LOCAL_ROUNDS = 3
LOCAL_STEPS = SyncSteps(batch=SYNC_STEPS.batch)  # the prepare step talks to Gmail only
_T = TypeVar("_T")
_RUNS = itertools.count()
GMAIL_UNITS_PER_MINUTE = 15000
SERVER = (
    "from inboxcrm.sandbox.server import serve;"
    f"serve('127.0.0.1', 0, 'empty', quota_units_per_minute={GMAIL_UNITS_PER_MINUTE})"
)


def _seed(url: str) -> None:
    body = "Hello,\r\n\r\n" + "Let us talk about the pilot next week. " * 20

    def deliver(i: int) -> None:
        eml = (
            f"From: Lead {i} <lead{i}@acme{i % 50}.example>\r\nTo: {USER}\r\n"
            f"Subject: Pilot {i}\r\nMessage-ID: <m{i}@acme.example>\r\n\r\n{body}"
        )
        answer = requests.post(f"{url}/_sandbox/deliver", json={"to": USER, "eml": eml}, timeout=30)
        answer.raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(deliver, range(MESSAGES)))


def _grant(url: str) -> str:
    """Ava's tokens as sign-in stores them."""
    token = tokens(url, " ".join(SCOPES))
    return json.dumps({"token": token["access_token"], "refresh_token": token["refresh_token"]})


def _mailbox(database: Database, sealed: bytes) -> int:
    with database.session() as session:
        workspace = create_workspace(session, "Northwind", "northwind.io")
        member = add_member(session, workspace, USER, Role.admin, "Ava Reed")
        return connect_mailbox(session, member, USER, sealed, frozenset(SCOPES)).id


def _gmail_ids(url: str, runtime: Runtime) -> set[str]:
    requests.post(f"{url}/_sandbox/options", json={"quota_units_per_minute": 0}, timeout=5)
    with runtime.database.session() as session:
        calls = gmail_calls(runtime, session.get_one(Mailbox, 1))
    ids: set[str] = set()
    token = None
    while True:
        listing = calls.users.messages().list(userId="me", pageToken=token, maxResults=500)
        page = listing.execute(http=calls.http)
        ids |= {m["id"] for m in page.get("messages", [])}
        token = page.get("nextPageToken")
        if not token:
            return ids


def full_sync(url: str, workdir: Path) -> dict[str, Any]:
    _seed(url)
    key = Fernet.generate_key().decode()
    database_url = f"sqlite:///{workdir / 'sync.sqlite3'}"
    upgrade(database_url)
    settings = load_settings(
        {
            "INBOXCRM_ENV": "test",
            "INBOXCRM_DATABASE_URL": database_url,
            "INBOXCRM_TOKEN_KEY": key,
            "INBOXCRM_GOOGLE_CLIENT_ID": DEFAULT_CLIENT_ID,
            "INBOXCRM_GOOGLE_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "INBOXCRM_GOOGLE_API_ROOT": url,
            "INBOXCRM_GOOGLE_TOKEN_URI": f"{url}/token",
        }
    )
    runtime = Runtime(Database(database_url), settings, workers=1)
    token_json = _grant(url)
    mailbox_id = _mailbox(runtime.database, TokenBox(key).seal(token_json))
    with runtime.database.session() as session:
        calls = gmail_calls(runtime, session.get_one(Mailbox, mailbox_id))

    started = time.perf_counter()
    state = sync_mailbox(runtime.database, mailbox_id, calls, utcnow, SYNC_STEPS)
    seconds = time.perf_counter() - started
    quota = requests.get(f"{url}/_sandbox/quota", params={"user": USER}, timeout=5).json()

    expected = _gmail_ids(url, runtime)
    with runtime.database.session() as session:
        rows = session.execute(
            select(Message.gmail_id, func.count()).group_by(Message.gmail_id)
        ).all()
    stored = {gmail_id for gmail_id, _ in rows}
    unhandled = (0 if state is SyncState.idle else 1) + calls.stats.gave_up
    return {
        "messages": len(stored),
        "seconds": round(seconds, 1),
        "units_used": quota["used"],
        "units_available": round(quota["available"]),
        "utilization": round(quota["used"] / quota["available"], 3),
        "rate_limited": quota["refused"],
        "unhandled_429": unhandled,
        "lost": len(expected - stored),
        "duplicated": sum(count - 1 for _, count in rows),
    }


def _cold() -> None:
    """Forget every address and domain seen, and stop the parse pool, as a new process
    would be."""
    stop_pool()
    participants._NORMALIZED.clear()
    for cached in (
        participants.decode_words,
        participants._parse_addresses,
        addresses.ascii_domain,
        addresses.domain_key,
    ):
        cached.cache_clear()


class LocalGmail:
    """The Gmail a full sync reads, without HTTP or quota: the listing in pages of 500, and
    each message as the JSON text Gmail answers with, decoded as the client library does
    unless asked for the text."""

    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.ids = [r["id"] for r in resources]
        self.answers = {r["id"]: json.dumps(r) for r in resources}

    def profile(self) -> dict[str, Any]:
        return {"historyId": "1"}

    def list_message_ids(self, q: str | None = None, page_token: str | None = None) -> Page:
        start = int(page_token or 0)
        following = start + 500 if start + 500 < len(self.ids) else None
        return Page(self.ids[start : start + 500], str(following) if following else None)

    def get_messages(self, ids: list[str], as_text: bool = False) -> Fetched:
        decode = (lambda text: text) if as_text else json.loads
        return Fetched({i: decode(self.answers[i]) for i in ids}, [])

    def history(self, start: int, page_token: str | None = None) -> dict[str, Any]:
        return {"historyId": str(start)}


def _local_mailbox(workdir: Path) -> tuple[Database, int]:
    database_url = f"sqlite:///{workdir / f'local-{next(_RUNS)}.sqlite3'}"
    upgrade(database_url)
    database = Database(database_url)
    with database.session() as session:
        workspace = create_workspace(session, "Local", "northwind.io")
        member = add_member(session, workspace, USER, Role.admin)
        return database, connect_mailbox(session, member, USER, b"", frozenset()).id


def local_rate(workdir: Path, steps: SyncSteps = LOCAL_STEPS) -> dict[str, float]:
    """A full sync of LOCAL_MESSAGES from LocalGmail through the sync engine (fetching a
    batch ahead, parsing in the pool, storing, the sync steps, a commit per batch), cold
    (new workers too, started before the clock starts): wall-clock messages a second, and
    messages a CPU second (this process and the pool's workers parsing)."""
    _cold()
    calls = LocalGmail(sample(LOCAL_MESSAGES))
    database, mailbox_id = _local_mailbox(workdir)
    start_pool(wait=60)  # a sync's first fetch from Gmail takes longer than the pool's start
    wall, cpu, pool_cpu = time.perf_counter(), time.process_time(), pool_cpu_seconds()
    state = sync_mailbox(database, mailbox_id, calls, utcnow, steps)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pool_cpu = pool_cpu_seconds() - pool_cpu
    assert state is SyncState.idle
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == LOCAL_MESSAGES
    return {
        "msgs_per_s": LOCAL_MESSAGES / wall,
        "cpu_msgs_per_s": LOCAL_MESSAGES / (cpu + pool_cpu),
        "pool_share": pool_cpu / (cpu + pool_cpu),
    }


def local_stages(workdir: Path) -> dict[str, float]:
    """Where a message's local work goes: the same work, in this process (no pool), one
    stage after another, in CPU microseconds a message."""
    _cold()
    calls = LocalGmail(sample(LOCAL_MESSAGES))
    database, mailbox_id = _local_mailbox(workdir)
    heap.settle()  # as the sync does before its first sizeable batch
    spent = {"decode": 0.0, "parse": 0.0, "store": 0.0}
    spent |= {step.__name__: 0.0 for step in LOCAL_STEPS.batch}
    spent["commit"] = 0.0

    def timed(stage: str, work: Callable[[], _T]) -> _T:
        started = time.process_time()
        result = work()
        spent[stage] += time.process_time() - started
        return result

    for start in range(0, LOCAL_MESSAGES, CHUNK):
        ids = calls.ids[start : start + CHUNK]
        fetched = timed("decode", lambda: calls.get_messages(ids))  # noqa: B023
        resources = fetched.messages.values()
        parsed = timed("parse", lambda: [parse_message(r) for r in resources])  # noqa: B023
        with database.sessions() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            stored = timed("store", lambda: store_messages(session, mailbox, parsed))  # noqa: B023
            batch = Batch(session, mailbox, utcnow(), messages=stored.messages)
            for step in LOCAL_STEPS.batch:
                timed(step.__name__, lambda: step(batch))  # noqa: B023
            timed("commit", session.commit)
    return {stage: round(seconds / LOCAL_MESSAGES * 1e6) for stage, seconds in spent.items()}


def local_figures(workdir: Path) -> dict[str, Any]:
    rounds = range(LOCAL_ROUNDS)
    synced = max((local_rate(workdir) for _ in rounds), key=lambda r: r["msgs_per_s"])
    stored = max((local_rate(workdir, NO_STEPS) for _ in rounds), key=lambda r: r["msgs_per_s"])
    stages = min((local_stages(workdir) for _ in rounds), key=lambda s: sum(s.values()))
    total = sum(stages.values())
    return {
        "local_messages": LOCAL_MESSAGES,
        "local_msgs_per_s": round(synced["msgs_per_s"]),
        "local_cpu_msgs_per_s": round(synced["cpu_msgs_per_s"]),
        "local_pool_cpu_share": round(synced["pool_share"], 2),
        "local_parse_store_msgs_per_s": round(stored["msgs_per_s"]),
        "local_in_process_cpu_msgs_per_s": round(1e6 / total),
        "local_us_per_msg": stages,
        "local_share": {stage: round(us / total, 3) for stage, us in stages.items()},
    }


def main() -> None:
    if sys.argv[1:] == ["--local"]:  # the local work alone, without the sandbox
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps({"benchmark": "sync", **local_figures(Path(tmp))}))
        return
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().rsplit(" ", 1)[-1].strip()
        with tempfile.TemporaryDirectory() as tmp:
            figures = full_sync(url, Path(tmp)) if MESSAGES else {}
            figures |= local_figures(Path(tmp))
        figures["quota_units_per_minute"] = GMAIL_UNITS_PER_MINUTE
        print(json.dumps({"benchmark": "sync", **figures}))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()

"""The clock polling many idle, already-synced mailboxes (issue #18, "Sync at team scale").

Prints one JSON object:
- mailboxes: connected, synced and idle mailboxes in one workspace (INBOXCRM_BENCH_MAILBOXES,
  default 1,000), each due at its place in the poll interval before each measure.
- polls_per_min (target >= 1,000): passes completed by ONE clock process, a real
  `run_clock` with `setup.jobs()` (the `sync_mailboxes` job is `sync_due` with SYNC_STEPS on a
  Runtime with its default workers, ticking every SYNC_TICK), over a measured window
  (INBOXCRM_BENCH_WINDOW_S, default 90 s, rounded to whole ticks).
- cpu_ms_per_idle_poll (target <= 5): the clock process's CPU time (every thread: the jobs,
  APScheduler, the probes below) over the window, per pass; pass_cpu_ms_per_idle_poll is
  the CPU of the passes' own threads and of the claims alone (the sync ticks', and each
  worker's claim of its next mailbox). The sandbox runs in its own process, so its CPU is not
  counted.
- statements_per_idle_poll (target <= 4 on SQLite): SQL statements (SQLAlchemy's
  `before_cursor_execute` on the clock's engine) of the passes and of the claims (the sync
  ticks', and each worker's between its passes), per pass; idle_pass_statements lists one
  pass's own statements (without its claim). The other jobs' statements are beside it, per
  minute.
- gmail_calls_per_idle_poll (target 1): HTTP requests to the sandbox per pass, counted on the
  app side (every httplib2 request: API calls, batches, token refreshes), by kind; checked
  against the sandbox's own access log (sandbox_requests_seen vs app_requests_counted).
- polls_per_min_4_processes, speedup_4_processes, double_polls: four clock processes on the
  same PostgreSQL database and sandbox (INBOXCRM_BENCH_DATABASE_URL, else
  INBOXCRM_TEST_DATABASE_URL; a fresh database is created on that server and dropped
  after); double_polls counts passes of one mailbox that overlapped in time. Null without
  PostgreSQL (see notes).
- label_to_stage_latency_s (target <= 60): while the one clock polls them all, a stage label
  is put on the lead's thread in Gmail and the database is looked at every second until the
  lead shows the stage; null when it did not within INBOXCRM_BENCH_LATENCY_TIMEOUT_S
  (default 120 s). The lead's mailbox is made due first, so the clock's first tick polls
  it; that pass is out of the mailbox's place in the interval, so the next comes at its place
  (half an interval to one and a half later, see `next_poll`), and from that pass on once a
  minute. The label goes on at a random point of the poll interval after the pass at its
  place (as a rep would, anywhere in the mailbox's cycle); this is measured before the
  window, so the window's passes stay idle.
- poll_cycle_s: how long the measured rate takes to come round to every mailbox once.
- capacity (PostgreSQL only): with 1,000 mailboxes polled once a minute, one clock already
  keeps up, so polls_per_min_4_processes cannot exceed the demand of 1,000 a minute. Here
  every mailbox is due again CAPACITY_POLL_S (default 2 s, INBOXCRM_BENCH_CAPACITY_POLL_S)
  after its pass, so the clocks are the limit: polls_per_min for 1 and for 4 processes, the
  speedup, double_polls, and cpu_cores, since four processes cannot do more than the
  machine's cores allow (the sandbox's CPU shares them too).
- capacity.held: the same with each clock process held to CLOCK_CORES of a core
  (INBOXCRM_BENCH_CLOCK_CORES, default 0.25) by a cgroup of its own (v1's CPU quota or
  v2's cpu.max; null where none can be written): four clocks then want no more CPU than
  one core, so on a small machine too this shows whether four do four times the work of
  one (speedup_4_processes, target >= 3.5) and whether a poll costs more CPU when several
  clocks share the queue (cpu_ms_per_poll for 1 and 4 processes).

Wall times (pass_wall_ms_p50/p95, setup_s, window_s) are beside the CPU times: the machine
may be busy with other work, so the CPU figures are the steadier ones.

How it runs: the sandbox (Gmail's quota on, 15,000 units a minute per user) in its own
process; one workspace and its members made through the services, each mailbox connected
with sealed tokens from the sandbox's authorization-code flow, then one real full sync per
mailbox (the `sync_due` job, run back to back) so every later poll is incremental and idle.
Each clock is this file run with `--clock`: it wraps `sync_claimed` and the sync job's tick
to record each pass and tick (start, end, CPU, statements, requests), then runs
`run_clock` until told to stop. SQLite (a file in a temporary folder) unless a PostgreSQL
URL is given.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.sandbox

from benchmarks.sandbox import tokens
from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox, Role, SyncState
from inboxcrm.accounts.service import add_member, connect_mailbox, create_workspace
from inboxcrm.config import load_settings
from inboxcrm.db import Database, utcnow
from inboxcrm.gmail.auth import SCOPES
from inboxcrm.leads.models import Lead
from inboxcrm.mail.jobs import POLL_EVERY, SYNC_TICK, in_phase, sync_due
from inboxcrm.migrate import upgrade
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from inboxcrm.setup import SYNC_STEPS
from inboxcrm.stages.models import Stage

MAILBOXES = int(os.environ.get("INBOXCRM_BENCH_MAILBOXES", "1000"))
# Whole ticks: each clock then ticks the same number of times in the window, whatever its phase.
WINDOW_S = SYNC_TICK.total_seconds() * max(
    1, round(float(os.environ.get("INBOXCRM_BENCH_WINDOW_S", "90")) / SYNC_TICK.total_seconds())
)
LATENCY_TIMEOUT_S = float(os.environ.get("INBOXCRM_BENCH_LATENCY_TIMEOUT_S", "120"))
POSTGRES_URL = os.environ.get("INBOXCRM_BENCH_DATABASE_URL") or os.environ.get(
    "INBOXCRM_TEST_DATABASE_URL", ""
)
PROCESSES = 4
CAPACITY_POLL_S = int(os.environ.get("INBOXCRM_BENCH_CAPACITY_POLL_S", "2"))
# Each clock held to this share of a core for the held capacity (see the docstring).
CLOCK_CORES = float(os.environ.get("INBOXCRM_BENCH_CLOCK_CORES", "0.25"))
CGROUPS = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup"))  # v1's cpu controller, v2
WARMUP_S = 3.0  # after every clock is up, before the window opens
SAMPLE_EVERY = 0.25  # seconds between the clock's CPU samples
LOOK_EVERY = 1.0  # seconds between looks at the lead's stage
GMAIL_UNITS_PER_MINUTE = 15000
DOMAIN = "northwind.io"
LEAD = "nina.berg@vandelay.co.uk"
STAGE = "SQL"  # the stage whose label ("CRM/SQL") the rep puts on the thread
SERVER = (
    "from inboxcrm.sandbox.server import serve;"
    f"serve('127.0.0.1', 0, 'empty', quota_units_per_minute={GMAIL_UNITS_PER_MINUTE})"
)
TARGETS = {
    "polls_per_min": 1000,
    "cpu_ms_per_idle_poll": 5,
    "statements_per_idle_poll_sqlite": 4,
    "gmail_calls_per_idle_poll": 1,
    "label_to_stage_latency_s": 60,
}


def _address(i: int) -> str:
    return f"rep{i:04d}@{DOMAIN}"


# --- the clock process -------------------------------------------------------------------


@dataclass
class Probe:
    """What one clock process records: each pass and sync tick, with the statements and
    requests made on its thread, and the process's CPU time every SAMPLE_EVERY."""

    passes: list[dict[str, Any]] = field(default_factory=list)
    ticks: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)  # a worker's, between passes
    samples: list[tuple[float, float]] = field(default_factory=list)
    statements: Counter[str] = field(default_factory=Counter)  # by part: pass, claim, other
    requests: Counter[str] = field(default_factory=Counter)
    local: threading.local = field(default_factory=threading.local)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def part(self) -> str:
        return getattr(self.local, "part", "other")

    def statement(self, conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        with self.lock:
            self.statements[self.part()] += 1
        shown = getattr(self.local, "sql", None)
        if shown is not None:
            shown.append(_shape(sql))
        self.local.count = getattr(self.local, "count", 0) + 1

    def request(self, uri: str) -> None:
        path = urlsplit(uri).path
        kind = next((k for k, p in REQUEST_KINDS if p in path), "other")
        with self.lock:
            self.requests[kind] += 1
        kinds = getattr(self.local, "kinds", None)
        if kinds is not None:
            kinds[kind] += 1

    @contextmanager
    def traced(self, part: str, keep_sql: bool = False) -> Iterator[dict[str, Any]]:
        record: dict[str, Any] = {"start": time.monotonic()}
        cpu = time.thread_time()
        self.local.part, self.local.count, self.local.kinds = part, 0, Counter()
        self.local.sql = [] if keep_sql else None
        try:
            yield record
        finally:
            record.update(
                end=time.monotonic(),
                cpu=time.thread_time() - cpu,
                statements=self.local.count,
                requests=dict(self.local.kinds),
            )
            if self.local.sql is not None:
                record["sql"] = self.local.sql
            self.local.part, self.local.sql, self.local.kinds = "other", None, None

    def sample(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.samples.append((time.monotonic(), time.process_time()))
            stop.wait(SAMPLE_EVERY)


def _shape(sql: str) -> str:
    """A statement without its column list, to read what a pass asks."""
    words = " ".join(sql.split())
    return re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", words)[:200]


REQUEST_KINDS = (
    ("history.list", "/history"),
    ("labels", "/labels"),
    ("getProfile", "/profile"),
    ("messages", "/messages"),
    ("threads", "/threads"),
    ("batch", "/batch"),
    ("token", "/token"),
)


def clock_process(config_path: str) -> None:
    """One clock: `run_clock` with the production jobs, recorded by a Probe."""
    import httplib2
    from sqlalchemy import event

    from inboxcrm.mail import jobs as mail_jobs
    from inboxcrm.runtime import Job
    from inboxcrm.scheduler import run_clock
    from inboxcrm.setup import jobs

    config = json.loads(Path(config_path).read_text())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings(config["settings"])
    runtime = Runtime(Database(settings.database_url), settings)  # default workers
    probe = Probe()
    event.listen(runtime.database.engine, "before_cursor_execute", probe.statement)

    real_request = httplib2.Http.request

    def counted_request(self: Any, uri: str, *args: Any, **kwargs: Any) -> Any:
        probe.request(uri)
        return real_request(self, uri, *args, **kwargs)

    httplib2.Http.request = counted_request
    real_sync_claimed = mail_jobs.sync_claimed

    def traced_sync_claimed(runtime: Runtime, mailbox: int | Mailbox, *args: Any, **kw: Any) -> Any:
        mailbox_id = mailbox if isinstance(mailbox, int) else mailbox.id
        with probe.traced("pass", keep_sql=len(probe.passes) % 50 == 0) as record:
            state = real_sync_claimed(runtime, mailbox, *args, **kw)
        record.update(mailbox=mailbox_id, state=str(state), pid=os.getpid())
        probe.passes.append(record)
        return state

    mail_jobs.sync_claimed = traced_sync_claimed  # `_pass` looks it up when it runs

    def traced_claim(claim: Callable[..., Any]) -> Callable[..., Any]:
        """A worker's own claim of its next mailbox (the tick's is in the tick's record)."""

        def worker_claim(*args: Any, **kw: Any) -> Any:
            if probe.part() != "other":
                return claim(*args, **kw)
            with probe.traced("claim") as record:
                claimed = claim(*args, **kw)
            probe.claims.append(record)
            return claimed

        return worker_claim

    mail_jobs._claim = traced_claim(mail_jobs._claim)

    def traced_tick(run: Callable[[Runtime, dt.datetime], Any]) -> Any:
        def tick(runtime: Runtime, now: dt.datetime) -> Any:
            with probe.traced("claim") as record:
                started = run(runtime, now)
            record["claimed"] = len(started or ())
            probe.ticks.append(record)
            return started

        return tick

    clock_jobs = tuple(
        Job(job.id, job.every, traced_tick(job.run)) if job.id == "sync_mailboxes" else job
        for job in jobs()
    )
    stop_sampling = threading.Event()
    threading.Thread(target=probe.sample, args=(stop_sampling,), daemon=True).start()

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    print("ready", flush=True)
    try:
        run_clock(runtime, clock_jobs)
    except KeyboardInterrupt:
        pass
    finally:
        stop_sampling.set()
        probe.samples.append((time.monotonic(), time.process_time()))
        with probe.lock:
            result = {
                "pid": os.getpid(),
                "passes": list(probe.passes),
                "ticks": list(probe.ticks),
                "claims": list(probe.claims),
                "samples": list(probe.samples),
                "statements": dict(probe.statements),
                "requests": dict(probe.requests),
            }
        Path(config["out"]).write_text(json.dumps(result))
        os._exit(0)


# --- setting up ----------------------------------------------------------------------------


@dataclass
class Bench:
    sandbox_url: str
    sandbox_log: Path
    database_url: str
    token_key: str
    workdir: Path
    lead_mailbox: str = ""
    notes: list[str] = field(default_factory=list)

    poll_seconds: int | None = None  # INBOXCRM_POLL_SECONDS for the clocks; None: default

    @property
    def settings(self) -> dict[str, str]:
        poll = {"INBOXCRM_POLL_SECONDS": str(self.poll_seconds)} if self.poll_seconds else {}
        return {
            **poll,
            "INBOXCRM_ENV": "test",
            "INBOXCRM_DATABASE_URL": self.database_url,
            "INBOXCRM_TOKEN_KEY": self.token_key,
            "INBOXCRM_LOG_LEVEL": "WARNING",
            "INBOXCRM_GOOGLE_CLIENT_ID": DEFAULT_CLIENT_ID,
            "INBOXCRM_GOOGLE_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "INBOXCRM_GOOGLE_API_ROOT": self.sandbox_url,
            "INBOXCRM_GOOGLE_TOKEN_URI": f"{self.sandbox_url}/token",
        }


def _grant(url: str, email: str) -> str:
    """The address's tokens from the sandbox's code flow, as sign-in stores them."""
    with requests.Session() as http:
        token = tokens(url, " ".join(SCOPES), email, http)
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=int(token["expires_in"]))
    return json.dumps(
        {
            "token": token["access_token"],
            "refresh_token": token["refresh_token"],
            "expiry": expiry.replace(tzinfo=None).isoformat() + "Z",
        }
    )


def _proposal(rep: str) -> str:
    return (
        f"From: Rep <{rep}>\r\nTo: Nina Berg <{LEAD}>\r\nSubject: Proposal\r\n"
        f"Message-ID: <proposal@{DOMAIN}>\r\n\r\nHere it is.\r\n"
    )


def set_up(bench: Bench) -> dict[str, Any]:
    """MAILBOXES members with connected mailboxes, each fully synced once (idle since)."""
    started = time.perf_counter()
    url = bench.sandbox_url
    addresses = [_address(i) for i in range(MAILBOXES)]
    bench.lead_mailbox = random.choice(addresses)
    # One at a time: the control API lists every account in its answer, outside its lock.
    with requests.Session() as http:
        for email in addresses:
            answer = http.post(f"{url}/_sandbox/accounts", json={"email": email}, timeout=30)
            answer.raise_for_status()
    with ThreadPoolExecutor(8) as pool:
        grants = list(pool.map(lambda email: _grant(url, email), addresses))
    requests.post(
        f"{url}/_sandbox/deliver",
        json={"to": bench.lead_mailbox, "eml": _proposal(bench.lead_mailbox), "labelIds": ["SENT"]},
        timeout=30,
    ).raise_for_status()
    box = TokenBox(bench.token_key)
    upgrade(bench.database_url)
    database = Database(bench.database_url)
    with database.session() as session:
        workspace = create_workspace(session, "Northwind", DOMAIN)
        for i, (email, grant) in enumerate(zip(addresses, grants, strict=True)):
            member = add_member(session, workspace, email, Role.rep, f"Rep {i}")
            connect_mailbox(session, member, email, box.seal(grant), frozenset(SCOPES))
    tokens_s = time.perf_counter() - started

    # One full sync per mailbox through the clock's own job, run back to back. Its workers
    # go on polling while mailboxes come due, and once the set-up outlasts half a poll
    # interval the first synced are due again before the last is synced: they never run
    # dry, so the set-up stops them (each ends its pass) once every mailbox has synced.
    runtime = Runtime(database, load_settings(bench.settings))
    running: set[Future[SyncState | None]] = set()
    while True:
        running |= set(sync_due(runtime, utcnow(), SYNC_STEPS))
        with database.session() as session:
            left = session.scalar(
                select(func.count()).where(Mailbox.last_synced_at.is_(None)).select_from(Mailbox)
            )
        if not left:
            break
        if running:
            _, running = wait(running, timeout=1, return_when=FIRST_COMPLETED)
        else:
            time.sleep(0.1)
    runtime.stop()
    with database.session() as session:
        states = Counter(str(s) for s in session.scalars(select(Mailbox.sync_state)))
        unsynced = session.scalar(
            select(func.count()).where(Mailbox.history_id.is_(None)).select_from(Mailbox)
        )
        lead = session.scalar(select(func.count()).where(Lead.email == LEAD).select_from(Lead))
    database.dispose()
    if unsynced or set(states) != {str(SyncState.idle)} or lead != 1:
        raise RuntimeError(
            f"set-up failed: states {dict(states)}, {unsynced} unsynced, lead {lead}"
        )
    return {
        "setup_s": round(time.perf_counter() - started, 1),
        "setup_tokens_s": round(tokens_s, 1),
        "setup_full_syncs_s": round(time.perf_counter() - started - tokens_s, 1),
    }


# --- measuring -------------------------------------------------------------------------


def _make_due(database_url: str, first: str, every: dt.timedelta) -> dt.datetime:
    """Every mailbox due at its place in the next poll interval, as a running clock leaves
    them (all due at once, the window would open on the clocks working off that burst, some
    mailboxes polled twice in it and others not yet); the lead's due a minute ago, so the
    first tick polls it."""
    now = utcnow()
    database = Database(database_url)
    with database.session() as session:
        ids = session.scalars(select(Mailbox.id)).all()
        session.execute(
            update(Mailbox),
            [{"id": i, "next_poll_at": in_phase(i, now, every)} for i in ids],
        )
        session.execute(
            update(Mailbox)
            .where(Mailbox.email == first)
            .values(next_poll_at=now - dt.timedelta(minutes=1))
        )
    database.dispose()
    return now


def _cpu_at(samples: list[list[float]], at: float) -> float:
    """The process's CPU time at `at`, interpolated between its samples."""
    before = [s for s in samples if s[0] <= at]
    after = [s for s in samples if s[0] >= at]
    if not before or not after:
        raise RuntimeError("the clock's samples do not cover the window")
    (t0, c0), (t1, c1) = before[-1], after[0]
    return c0 if t1 == t0 else c0 + (c1 - c0) * (at - t0) / (t1 - t0)


def _sandbox_requests(log: Path, start: int, end: int) -> int:
    """Requests the sandbox logged between two offsets of its log that the app's client
    library made (userId "me", batches, token refreshes), not this harness's own."""
    with log.open("rb") as f:
        f.seek(start)
        lines = f.read(end - start).decode(errors="replace").splitlines()
    paths = [line.split('"')[1].split(" ")[1] for line in lines if line.count('"') >= 2]
    return sum(1 for p in paths if "/users/me/" in p or p.startswith(("/batch", "/token")))


def _overlaps(passes: list[dict[str, Any]]) -> int:
    """Passes of a mailbox that began before another pass of it had ended."""
    by_mailbox: dict[int, list[dict[str, Any]]] = {}
    for p in passes:
        by_mailbox.setdefault(p["mailbox"], []).append(p)
    double = 0
    for runs in by_mailbox.values():
        runs.sort(key=lambda p: p["start"])
        latest_end = float("-inf")
        for p in runs:
            if p["start"] < latest_end:
                double += 1
            latest_end = max(latest_end, p["end"])
    return double


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _cpu_group(name: str, cores: float) -> Path | None:
    """A cgroup of its own that holds what joins it to `cores` of CPU time; None where no
    cgroup's CPU controller can be written to (not root, or no such controller)."""
    period = 100_000
    for root in CGROUPS:
        group = root / f"inboxcrm-bench-{name}"
        try:
            if (root / "cpu.cfs_quota_us").exists():  # v1
                group.mkdir(exist_ok=True)
                (group / "cpu.cfs_period_us").write_text(str(period))
                (group / "cpu.cfs_quota_us").write_text(str(int(cores * period)))
                return group
            if "cpu" in (root / "cgroup.subtree_control").read_text().split():  # v2
                group.mkdir(exist_ok=True)
                (group / "cpu.max").write_text(f"{int(cores * period)} {period}")
                return group
        except OSError:
            continue
    return None


class Unheld(Exception):
    """No cgroup can hold a clock's CPU on this machine."""


def _polled(database_url: str, start: dt.datetime, end: dt.datetime) -> int:
    """Mailboxes whose last poll ended between `start` and `end`."""
    database = Database(database_url)
    with database.session() as session:
        polled = session.scalar(
            select(func.count())
            .where(Mailbox.last_synced_at.between(start, end))
            .select_from(Mailbox)
        )
    database.dispose()
    return polled or 0


def measure(
    bench: Bench, processes: int, latency: bool, cores: float | None = None
) -> dict[str, Any]:
    """`processes` clocks polling every mailbox for WINDOW_S; with `latency`, first a stage
    label put on the lead's thread and the time until the lead shows the stage. With
    `cores`, each clock is held to that much CPU (Unheld when it cannot be)."""
    every = dt.timedelta(seconds=bench.poll_seconds) if bench.poll_seconds else POLL_EVERY
    due_at = _make_due(bench.database_url, bench.lead_mailbox, every)
    log_offset = bench.sandbox_log.stat().st_size
    clocks = []
    for n in range(processes):
        config = bench.workdir / f"clock-{processes}-{n}.json"
        out = bench.workdir / f"clock-{processes}-{n}.out.json"
        config.write_text(json.dumps({"settings": bench.settings, "out": str(out)}))
        log = bench.workdir / f"clock-{processes}-{n}.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, __file__, "--clock", str(config)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        clocks.append((process, out, log))
    groups = []
    if cores is not None:
        for n, (process, _, _) in enumerate(clocks):
            group = _cpu_group(f"{processes}-{n}", cores)
            if group is None:
                for process, _, _ in clocks:
                    process.kill()
                    process.wait()
                raise Unheld
            (group / "cgroup.procs").write_text(str(process.pid))
            groups.append(group)
    figures: dict[str, Any] = {}
    try:
        for process, _, _ in clocks:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a clock process did not start")
        if latency:
            figures.update(label_latency(bench, due_at))
        time.sleep(WARMUP_S)
        window_wall = utcnow()
        t0 = time.monotonic()
        time.sleep(WINDOW_S)
        t1 = time.monotonic()
        window_wall_end = utcnow()
        polled_db = _polled(bench.database_url, window_wall, window_wall_end)  # before the
        # clocks stop: a mailbox polled in the window and again while they stop still counts
    finally:
        for process, _, _ in clocks:
            process.send_signal(signal.SIGTERM)
        for process, _, _ in clocks:
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for group in groups:
            group.rmdir()  # empty once its clock ended
    results = [json.loads(out.read_text()) for _, out, _ in clocks]
    sandbox_seen = _sandbox_requests(
        bench.sandbox_log, log_offset, bench.sandbox_log.stat().st_size
    )
    errors = sum(
        line.count(" ERROR ") + line.count("Traceback")
        for _, _, log in clocks
        for line in log.read_text().splitlines()
    )

    every_pass = [p for r in results for p in r["passes"]]
    in_window = [p for p in every_pass if t0 <= p["end"] <= t1]
    idle = [p for p in in_window if p["state"] == str(SyncState.idle)]
    ticks = [t for r in results for t in r["ticks"] if t0 <= t["end"] <= t1]
    claims = [c for r in results for c in r["claims"] if t0 <= c["end"] <= t1]
    cpu = sum(_cpu_at(r["samples"], t1) - _cpu_at(r["samples"], t0) for r in results)
    window = t1 - t0
    polls = len(in_window)
    per_poll = 1 / polls if polls else float("nan")
    kinds: Counter[str] = Counter()
    for p in idle:
        kinds.update(p["requests"])
    claim_statements = sum(t["statements"] for t in ticks) + sum(c["statements"] for c in claims)
    pass_statements = sum(p["statements"] for p in in_window)
    other_statements = sum(r["statements"].get("other", 0) for r in results)
    lifetime = sum(r["samples"][-1][0] - r["samples"][0][0] for r in results) / processes
    sample_sql: list[str] = next((p["sql"] for p in idle if "sql" in p), [])
    figures.update(
        {
            "polls_per_min": round(polls / window * 60, 1),
            "window_s": round(window, 1),
            "passes": polls,
            "passes_not_idle": polls - len(idle),
            "mailboxes_polled_in_window_db": polled_db,
            "claimed_per_tick": round(statistics.mean(t["claimed"] for t in ticks), 2)
            if ticks
            else 0,
            "sync_ticks_per_min": round(len(ticks) / window * 60 / processes, 1),
            "cpu_ms_per_idle_poll": round(cpu * 1000 * per_poll, 2),
            "pass_cpu_ms_per_idle_poll": round(
                1000 * per_poll * sum(x["cpu"] for x in (*in_window, *ticks, *claims)),
                2,
            ),
            "cpu_share_of_one_core": round(cpu / window, 3),
            "pass_wall_ms_p50": round(1000 * _p([p["end"] - p["start"] for p in idle], 0.5), 1),
            "pass_wall_ms_p95": round(1000 * _p([p["end"] - p["start"] for p in idle], 0.95), 1),
            "statements_per_idle_poll": round((pass_statements + claim_statements) * per_poll, 2),
            "statements_per_idle_poll_by_part": {
                "pass": round(pass_statements * per_poll, 2),
                "claim": round(claim_statements * per_poll, 2),
            },
            "other_jobs_statements_per_min_per_process": round(
                other_statements / processes / lifetime * 60, 1
            ),
            "gmail_calls_per_idle_poll": round(sum(kinds.values()) / len(idle), 2)
            if idle
            else None,
            "gmail_calls_by_kind": dict(kinds),
            "app_requests_counted": sum(sum(r["requests"].values()) for r in results),
            "sandbox_requests_seen": sandbox_seen,
            "double_polls": _overlaps(every_pass),
            "clock_errors_logged": errors,
            "idle_pass_statements": sample_sql,
        }
    )
    return figures


def label_latency(bench: Bench, due_at: dt.datetime) -> dict[str, Any]:
    """Seconds from a stage label put on the lead's thread in Gmail to the lead's stage in
    the database, while the clock polls every mailbox. The label goes on at a random point
    of the lead mailbox's poll cycle, which begins with its pass at its place in the
    interval (the one after its pass at the clock's first tick)."""
    database = Database(bench.database_url)
    with database.session() as session:
        box = session.scalars(select(Mailbox).where(Mailbox.email == bench.lead_mailbox)).one()
        assert box.token_ciphertext is not None
        grant = json.loads(TokenBox(bench.token_key).open(box.token_ciphertext))
    # Gmail calls as the rep's own client would make them, with the mailbox's access token.
    rep = {"Authorization": f"Bearer {grant['token']}"}
    gmail = f"{bench.sandbox_url}/gmail/v1/users/{bench.lead_mailbox}"
    labels = requests.get(f"{gmail}/labels", headers=rep, timeout=30).json()["labels"]
    label = next(lb["id"] for lb in labels if lb["name"] == f"CRM/{STAGE}")
    thread = requests.get(f"{gmail}/threads", headers=rep, timeout=30).json()["threads"][0]["id"]
    stage = (
        select(Stage.name).join(Lead, Lead.stage_id == Stage.id).where(Lead.email == LEAD).limit(1)
    )
    polled = select(Mailbox.last_synced_at).where(Mailbox.email == bench.lead_mailbox)
    waited = time.monotonic()

    def passed(since: dt.datetime, strictly: bool) -> dt.datetime | None:
        """The mailbox's pass at or after `since` (after it, `strictly`) is done: its time;
        None when none was within the timeout."""
        while time.monotonic() - waited <= LATENCY_TIMEOUT_S:
            with database.session() as session:
                last = session.scalar(polled)
            if last is not None and (last > since if strictly else last >= since):
                return last
            time.sleep(0.1)
        return None

    # Its first pass, made due out of its place; the next is the one at its place in the
    # interval (`next_poll`), where its cycle of a pass a minute begins.
    first = passed(due_at, strictly=False)
    if first is None or passed(first, strictly=True) is None:
        database.dispose()
        bench.notes.append(f"the lead's mailbox was not polled within {LATENCY_TIMEOUT_S} s")
        return {"label_to_stage_latency_s": None, "label_to_stage_timeout_s": LATENCY_TIMEOUT_S}
    offset = random.uniform(0, POLL_EVERY.total_seconds())
    time.sleep(offset)
    requests.post(
        f"{gmail}/threads/{thread}/modify", json={"addLabelIds": [label]}, headers=rep, timeout=30
    ).raise_for_status()
    labelled = time.monotonic()
    shown = None
    while time.monotonic() - labelled < LATENCY_TIMEOUT_S:
        with database.session() as session:
            if session.scalar(stage) == STAGE:
                shown = time.monotonic()
                break
        time.sleep(LOOK_EVERY)
    database.dispose()
    return {
        "label_to_stage_latency_s": None if shown is None else round(shown - labelled, 1),
        "label_to_stage_timeout_s": LATENCY_TIMEOUT_S,
        "label_applied_after_poll_s": round(offset, 1),
    }


# --- the run -----------------------------------------------------------------------------


@contextmanager
def _postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the given PostgreSQL server, dropped afterwards."""
    name = f"inboxcrm_pollbench_{os.getpid()}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(workdir: Path, sandbox_url: str, sandbox_log: Path, database_url: str) -> dict[str, Any]:
    bench = Bench(sandbox_url, sandbox_log, database_url, Fernet.generate_key().decode(), workdir)
    postgres = database_url.startswith("postgresql")
    figures: dict[str, Any] = {
        "benchmark": "polling",
        "database": "postgresql" if postgres else "sqlite",
        "mailboxes": MAILBOXES,
        "workers_per_process": Runtime.__dataclass_fields__["workers"].default,
        "poll_every_s": POLL_EVERY.total_seconds(),
        "sync_tick_s": SYNC_TICK.total_seconds(),
        "quota_units_per_minute": GMAIL_UNITS_PER_MINUTE,
    }
    figures.update(set_up(bench))
    one = measure(bench, 1, latency=True)
    figures.update(one)
    rate = one["polls_per_min"]
    figures["poll_cycle_s"] = round(MAILBOXES / rate * 60, 1) if rate else None
    if one["label_to_stage_latency_s"] is None and "label_applied_after_poll_s" in one:
        bench.notes.append(
            f"the lead's stage did not show within {LATENCY_TIMEOUT_S:.0f} s of the label,"
            f" put on {one['label_applied_after_poll_s']} s after its mailbox's pass; at"
            f" {rate} polls a minute the clock comes back to a mailbox every"
            f" {figures['poll_cycle_s']} s"
        )
    if postgres:
        four = measure(bench, PROCESSES, latency=False)
        figures["polls_per_min_4_processes"] = four["polls_per_min"]
        figures["speedup_4_processes"] = round(four["polls_per_min"] / rate, 2) if rate else None
        figures["double_polls"] = one["double_polls"] + four["double_polls"]
        figures["processes_4"] = {
            k: v for k, v in four.items() if k not in ("idle_pass_statements", "double_polls")
        }
        figures["capacity"] = capacity(bench)
    else:
        figures["polls_per_min_4_processes"] = None
        figures["speedup_4_processes"] = None
        bench.notes.append(
            "four clock processes are measured on PostgreSQL only: set"
            " INBOXCRM_BENCH_DATABASE_URL (or INBOXCRM_TEST_DATABASE_URL, as"
            " scripts/with-postgres does) to a server's URL"
        )
    bench.notes.append(
        "the stage labels' check (one labels.list per mailbox every 10 minutes) last ran in"
        " the set-up's full sync, so few or no passes in the windows include it"
    )
    figures["targets"] = TARGETS
    figures["notes"] = bench.notes
    return figures


def _held(bench: Bench) -> dict[str, Any] | None:
    """One and four clocks, each held to CLOCK_CORES of CPU, as if each had its own part
    of a larger machine: whether four do four times the work of one once the machine's
    cores are not what limits them."""
    try:
        one = measure(bench, 1, latency=False, cores=CLOCK_CORES)
        four = measure(bench, PROCESSES, latency=False, cores=CLOCK_CORES)
    except Unheld:
        bench.notes.append("no writable cgroup CPU controller: the held capacity is not measured")
        return None
    rate = one["polls_per_min"]
    return {
        "cores_per_process": CLOCK_CORES,
        "polls_per_min_1_process": rate,
        "polls_per_min_4_processes": four["polls_per_min"],
        "speedup_4_processes": round(four["polls_per_min"] / rate, 2) if rate else None,
        "cpu_ms_per_poll_1_process": one["cpu_ms_per_idle_poll"],
        "cpu_ms_per_poll_4_processes": four["cpu_ms_per_idle_poll"],
        # the passes' and claims' own threads: without each process's other jobs
        "pass_cpu_ms_per_poll_1_process": one["pass_cpu_ms_per_idle_poll"],
        "pass_cpu_ms_per_poll_4_processes": four["pass_cpu_ms_per_idle_poll"],
        "statements_per_poll_4_processes": four["statements_per_idle_poll"],
        "double_polls": one["double_polls"] + four["double_polls"],
    }


def capacity(bench: Bench) -> dict[str, Any]:
    """One and four clocks with every mailbox due again CAPACITY_POLL_S after its pass."""
    bench.poll_seconds = CAPACITY_POLL_S
    try:
        one = measure(bench, 1, latency=False)
        four = measure(bench, PROCESSES, latency=False)
        held = _held(bench)
    finally:
        bench.poll_seconds = None
    rate = one["polls_per_min"]
    return {
        "held": held,
        "poll_every_s": CAPACITY_POLL_S,
        "cpu_cores": os.cpu_count(),
        "polls_per_min_1_process": rate,
        "polls_per_min_4_processes": four["polls_per_min"],
        "speedup_4_processes": round(four["polls_per_min"] / rate, 2) if rate else None,
        "cpu_share_of_one_core_1_process": one["cpu_share_of_one_core"],
        "cpu_share_of_one_core_4_processes": four["cpu_share_of_one_core"],
        "double_polls": one["double_polls"] + four["double_polls"],
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--clock":
        clock_process(sys.argv[2])
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sandbox_log = workdir / "sandbox.log"
        with sandbox_log.open("wb") as log:  # its access log: one line a request
            server = subprocess.Popen(
                [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, stderr=log, text=True
            )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().rsplit(" ", 1)[-1].strip()
            if POSTGRES_URL:
                with _postgres_database(POSTGRES_URL) as database_url:
                    figures = run(workdir, url, sandbox_log, database_url)
            else:
                figures = run(workdir, url, sandbox_log, f"sqlite:///{workdir / 'bench.sqlite3'}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

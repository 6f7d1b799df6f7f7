"""Request timings through a Flask test client, as the page benchmarks report them."""

from __future__ import annotations

import gc
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, text

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    # CPU time of this process: what a request costs when the machine is shared.
    cpu_ms: list[float] = field(default_factory=list)
    # CPU time of the PostgreSQL server processes serving the app, over all the requests
    # (None on SQLite, or when the server's processes are not on this machine).
    server_cpu_ms: float | None = None


def p95(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=20)[18], 2)


def server_cpu_ms(engine: Engine) -> float | None:
    """CPU time so far of the server processes connected to the app's PostgreSQL database,
    read from /proc (a server on this machine), in clock ticks' resolution."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * 1000 / TICKS


def time_urls(client: Any, urls: list[str], repeat: int, **kw: Any) -> dict[str, Timings]:
    """Each URL `repeat` times; every answer must be a 200. The rate limits are off: one
    client asking thousands of times a minute is the point here, not an attack."""
    client.application.extensions["inboxcrm.limiter"].enabled = False
    engine = client.application.extensions["inboxcrm.db"].engine
    timings: dict[str, Timings] = {}
    # What the seed left in this process is frozen: a server process holds none of it, and
    # a full collection in a timed request would walk it all.
    gc.collect()
    gc.freeze()
    try:
        _time(client, engine, urls, repeat, timings, kw)
    finally:
        gc.unfreeze()
    return timings


def _time(
    client: Any,
    engine: Engine,
    urls: list[str],
    repeat: int,
    timings: dict[str, Timings],
    kw: dict[str, Any],
) -> None:
    for url in urls:
        seen = timings.setdefault(url, Timings())
        server_before = server_cpu_ms(engine)
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(url, **kw)
            seen.wall_ms.append((time.perf_counter() - t0) * 1000)
            seen.cpu_ms.append((time.process_time() - c0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        server_after = server_cpu_ms(engine)
        if server_before is not None and server_after is not None:
            seen.server_cpu_ms = (seen.server_cpu_ms or 0) + server_after - server_before


def summary(timings: dict[str, Timings]) -> dict[str, object]:
    """p50 and p95 over every request, p95 per URL, the CPU p95, and on PostgreSQL the
    server's mean CPU time per request."""
    wall = [ms for t in timings.values() for ms in t.wall_ms]
    cpu = [ms for t in timings.values() for ms in t.cpu_ms]
    result: dict[str, object] = {
        "p50_ms": round(statistics.median(wall), 2),
        "p95_ms": p95(wall),
        "p95_ms_by_url": {url: p95(t.wall_ms) for url, t in timings.items()},
        "cpu_p95_ms": p95(cpu),
    }
    server = [t.server_cpu_ms for t in timings.values()]
    if server and all(ms is not None for ms in server):
        result["server_cpu_ms_per_request"] = round(
            sum(ms for ms in server if ms is not None) / len(wall), 2
        )
    return result


def measure(client: Any, urls: list[str], repeat: int, **kw: Any) -> dict[str, object]:
    return summary(time_urls(client, urls, repeat, **kw))


def sign_in(client: Any, member_id: int) -> None:
    """Give the test client a real server-side session for the member (no link round trip)."""
    from inboxcrm.accounts.models import Member
    from inboxcrm.accounts.sessions import start_session
    from inboxcrm.db import utcnow

    with client.application.extensions["inboxcrm.db"].session() as s:
        token = start_session(s, s.get_one(Member, member_id), utcnow())
    with client.session_transaction() as sess:
        sess["sid"] = token


def statements(client: Any, urls: list[str], **kw: Any) -> dict[str, dict[str, int]]:
    """What one request to each URL costs in round trips to the database: SQL statements,
    and connections taken from the pool (each pinged first when the pool pre-pings)."""
    engine = client.application.extensions["inboxcrm.db"].engine
    counts: dict[str, dict[str, int]] = {}
    seen = {"statements": 0, "checkouts": 0}

    def statement(*_args: Any) -> None:
        seen["statements"] += 1

    def checkout(*_args: Any) -> None:
        seen["checkouts"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "checkout", checkout)
    try:
        for url in urls:
            seen.update(statements=0, checkouts=0)
            assert client.get(url, **kw).status_code == 200, url
            counts[url] = dict(seen)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "checkout", checkout)
    return counts

"""Request timings through a Flask test client, as the page benchmarks report them."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    # CPU time of this process: what a request costs when the machine is shared.
    cpu_ms: list[float] = field(default_factory=list)


def p95(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=20)[18], 2)


def time_urls(client: Any, urls: list[str], repeat: int, **kw: Any) -> dict[str, Timings]:
    """Each URL `repeat` times; every answer must be a 200."""
    timings: dict[str, Timings] = {}
    for url in urls:
        seen = timings.setdefault(url, Timings())
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(url, **kw)
            seen.wall_ms.append((time.perf_counter() - t0) * 1000)
            seen.cpu_ms.append((time.process_time() - c0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    return timings


def summary(timings: dict[str, Timings]) -> dict[str, object]:
    """p50 and p95 over every request, p95 per URL, and the CPU p95."""
    wall = [ms for t in timings.values() for ms in t.wall_ms]
    cpu = [ms for t in timings.values() for ms in t.cpu_ms]
    return {
        "p50_ms": round(statistics.median(wall), 2),
        "p95_ms": p95(wall),
        "p95_ms_by_url": {url: p95(t.wall_ms) for url, t in timings.items()},
        "cpu_p95_ms": p95(cpu),
    }


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

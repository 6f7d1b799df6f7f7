"""Delivering: one POST per delivery, signed, bounded in time (connect, each read and
the whole answer) and size (the first 64 KB of the answer are read, the rest dropped),
redirects not followed. A 2xx is delivered; anything else is retried with backoff over a
day, then given up. An endpoint failing for a day is disabled and its admins told."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from inboxcrm.config import Settings
from inboxcrm.errors import Invalid
from inboxcrm.webhooks.signing import HEADER, sign
from inboxcrm.webhooks.targets import check_addresses

CONNECT_S, READ_S, TOTAL_S = 3.0, 5.0, 10.0
MAX_ANSWER = 64 * 1024
SNIPPET = 500
# After the first attempt: 1 min, 5 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h 24 min (a day).
BACKOFF = tuple(dt.timedelta(minutes=m) for m in (1, 5, 30, 60, 120, 240, 480, 504))
DISABLE_AFTER = dt.timedelta(days=1)  # of failures in a row (and at least MIN_FAILURES)
MIN_FAILURES = 5


@dataclass(frozen=True)
class Answer:
    status: int | None
    latency_ms: int
    error: str | None
    response: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def post(url: str, secret: str, body: dict[str, Any], settings: Settings) -> Answer:
    """POST one delivery; never raises."""
    payload = encode(body)
    started = time.monotonic()

    def answer(status: int | None, error: str | None, text: str = "") -> Answer:
        return Answer(
            status, int((time.monotonic() - started) * 1000), error and error[:300], text[:SNIPPET]
        )

    parts = urlsplit(url)
    try:
        check_addresses(
            parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), settings
        )
    except Invalid as exc:
        return answer(None, f"blocked: {exc.message}")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "inboxcrm-webhooks/1",
        HEADER: sign(secret, int(time.time()), payload),  # signed as sent: a retry afresh
        "Inboxcrm-Event-Id": str(body.get("id", "")),
        "Inboxcrm-Event-Type": str(body.get("type", "")),
    }
    try:
        # A session of its own, closed after the answer: we close the connection first,
        # so the TIME-WAIT is ours, not a port's on the receiver's side.
        with (
            requests.Session() as http,
            http.post(
                url,
                data=payload,
                headers=headers,
                timeout=(CONNECT_S, READ_S),
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            read = bytearray()
            for chunk in response.iter_content(8192):
                read += chunk
                if len(read) >= MAX_ANSWER or time.monotonic() - started > TOTAL_S:
                    break  # enough to log; the rest is not our business
            text = bytes(read[: SNIPPET * 4]).decode("utf-8", errors="replace")
            if response.is_redirect:
                return answer(
                    response.status_code,
                    f"redirect to {response.headers.get('Location', '?')[:200]} not followed",
                    text,
                )
            if time.monotonic() - started > TOTAL_S and len(read) < MAX_ANSWER:
                return answer(None, f"no complete answer within {TOTAL_S:.0f} s", text)
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            return answer(response.status_code, error, text)
    except requests.Timeout:
        return answer(None, "timed out")
    except requests.RequestException as exc:
        return answer(None, f"{type(exc).__name__}: {exc}")


def next_try(attempts: int, created: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """When a delivery failed `attempts` times goes again: None once the day is over."""
    if attempts > len(BACKOFF):
        return None
    return now + BACKOFF[attempts - 1]

"""The signature every delivery carries, in the style of Stripe's: a header

    Inboxcrm-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e7...

where `v1` is the hex HMAC-SHA256, keyed by the endpoint's secret, of the timestamp, a
dot and the raw body. A receiver recomputes it over the body as received, compares in
constant time and refuses a timestamp more than five minutes old (a replay)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Inboxcrm-Signature"
TOLERANCE_S = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE_S) -> bool:
    """What a receiver does (the README's snippet is this function)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))

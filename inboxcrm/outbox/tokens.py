"""Signed tokens for the URLs a sent email carries: what they name travels inside them,
signed with the app's secret (HMAC-SHA256, a salt per purpose), so answering one needs no
database lookup, and a changed character makes it worthless. One purpose's token is no
good for another."""

from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

UNSUBSCRIBE = "inboxcrm.unsubscribe"
OPEN = "inboxcrm.open"
CLICK = "inboxcrm.click"
TRAP = "inboxcrm.trap"


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=purpose, signer_kwargs={"digest_method": hashlib.sha256})


def sign(secret: str, purpose: str, payload: list[Any]) -> str:
    return _serializer(secret, purpose).dumps(payload)


def read(secret: str, purpose: str, token: str) -> list[Any] | None:
    """The payload, or None for a token that is not ours, altered, or of another purpose."""
    try:
        payload = _serializer(secret, purpose).loads(token)
    except (BadSignature, ValueError, UnicodeError):
        return None
    return payload if isinstance(payload, list) else None

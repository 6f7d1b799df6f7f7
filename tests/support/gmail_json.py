"""Real RFC 5322 messages as Gmail's `users.messages.get` (`format=full`) resource.

Built the way Gmail structures it: the root part has partId "" and all message headers
(raw, encoded words kept, unfolded); children are "0", "1", nested "1.0"; a part with a
filename gets `body.attachmentId` and no data; other leaves carry their decoded content
as base64url with padding; multipart parts have `body.size` 0; an attached message
(message/rfc822) carries its own tree in `parts`.
"""

from __future__ import annotations

import base64
import email
import email.message
import hashlib
import re
from typing import Any

_FOLD = re.compile(r"\r?\n(?=[ \t])")


def b64url(data: bytes, *, pad: bool = True) -> str:
    encoded = base64.urlsafe_b64encode(data).decode("ascii")
    return encoded if pad else encoded.rstrip("=")


def _leaf_bytes(part: email.message.Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/delivery-status: the stdlib splits its blocks
        return "\n".join(str(block) for block in payload).encode("utf-8")
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _part(part: email.message.Message, part_id: str, pad: bool) -> dict[str, Any]:
    filename = part.get_filename() or ""
    out: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": filename,
        "headers": [{"name": k, "value": _FOLD.sub("", str(v))} for k, v in part.items()],
    }
    prefix = f"{part_id}." if part_id else ""
    content_type = part.get_content_type()
    if part.is_multipart() and content_type != "message/delivery-status":
        children = part.get_payload()
        assert isinstance(children, list)
        out["body"] = {"size": 0}
        out["parts"] = [_part(child, f"{prefix}{i}", pad) for i, child in enumerate(children)]
        return out
    data = _leaf_bytes(part)
    if filename:
        digest = hashlib.sha1(data + part_id.encode()).hexdigest()  # noqa: S324 - an id only
        out["body"] = {"attachmentId": f"ANGjdJ{digest}", "size": len(data)}
    else:
        out["body"] = {"size": len(data), "data": b64url(data, pad=pad)} if data else {"size": 0}
    return out


def to_gmail_json(
    message: email.message.Message | bytes,
    *,
    gmail_id: str = "18c2f0a1b2c3d4e5",
    thread_id: str = "18c2f0a1b2c3d4e0",
    label_ids: tuple[str, ...] = ("INBOX", "UNREAD"),
    internal_date_ms: int = 1_763_892_000_000,
    history_id: int = 987_654,
    pad: bool = True,
) -> dict[str, Any]:
    """The Gmail resource of a message, reparsed from its bytes so headers stay raw."""
    raw = message if isinstance(message, bytes) else message.as_bytes()
    parsed = email.message_from_bytes(raw)
    snippet_source = next(
        (
            p.get_payload(decode=True)
            for p in parsed.walk()
            if p.get_content_type() == "text/plain" and not p.get_filename()
        ),
        b"",
    )
    snippet = snippet_source.decode("utf-8", "replace") if isinstance(snippet_source, bytes) else ""
    return {
        "id": gmail_id,
        "threadId": thread_id,
        "labelIds": list(label_ids),
        "snippet": " ".join(snippet.split())[:200],
        "historyId": str(history_id),
        "internalDate": str(internal_date_ms),
        "sizeEstimate": len(raw),
        "payload": _part(parsed, "", pad),
    }

"""Listing: labelIds and q filters, newest first, with opaque page tokens."""

import base64
import binascii
from typing import Any

from inboxcrm.sandbox.api.call import Call
from inboxcrm.sandbox.errors import bad_request
from inboxcrm.sandbox.search import compile_query
from inboxcrm.sandbox.state import StoredMessage

MAX_PAGE = 500


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset:010d}".encode()).decode().rstrip("=")


def page_offset(call: Call) -> int:
    token = call.request.args.get("pageToken")
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if text[0] != "o":
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad_request("Invalid pageToken") from exc


def label_filter(call: Call) -> set[str]:
    wanted = set(call.request.args.getlist("labelIds"))
    for label_id in wanted:
        if label_id not in call.mailbox.labels:
            raise bad_request(f"Invalid label: {label_id}")
    return wanted


def matching(call: Call) -> list[StoredMessage]:
    """Messages that pass labelIds, q and the spam/trash default, newest first."""
    mb = call.mailbox
    wanted = label_filter(call)
    predicate, reaches = compile_query(call.request.args.get("q", ""), mb, call.state.clock.now())
    include_all = reaches or call.request.args.get("includeSpamTrash", "false") == "true"
    hidden = set() if include_all else {"SPAM", "TRASH"} - wanted
    return sorted(
        (
            m
            for m in mb.messages.values()
            if wanted <= m.label_ids and not (hidden & m.label_ids) and predicate(m)
        ),
        key=lambda m: (m.internal_date, m.id),
        reverse=True,
    )


def paginate(call: Call, items: list[Any], key: str) -> dict[str, Any]:
    size = call.int_arg("maxResults", 100, MAX_PAGE)
    start = page_offset(call)
    page = items[start : start + size]
    out: dict[str, Any] = {}
    if page:
        out[key] = page
    if start + size < len(items):
        out["nextPageToken"] = page_token(start + size)
    out["resultSizeEstimate"] = len(items)
    return out

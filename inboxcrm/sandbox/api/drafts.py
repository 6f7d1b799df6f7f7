"""drafts.*: create, get, list (with q), send, delete.

A draft is a message with the DRAFT label and a draft id. Sending it delivers a copy
(SENT, with Gmail's threading) and deletes the draft: a second drafts.send of the same
id answers 404, which is what makes a lost answer safe to retry.
"""

from typing import Any

from inboxcrm.sandbox import delivery, resources
from inboxcrm.sandbox.api.call import Call, uploaded
from inboxcrm.sandbox.api.listing import matching, paginate
from inboxcrm.sandbox.errors import bad_request, not_found
from inboxcrm.sandbox.mime import decode_b64url
from inboxcrm.sandbox.state import StoredMessage


def _draft_body(call: Call) -> tuple[bytes, dict[str, Any]]:
    """The draft's RFC 822 bytes and its message metadata (threadId), from JSON or upload."""
    if (found := uploaded(call)) is not None:
        raw, meta = found
        return raw, dict(meta.get("message") or {})
    message = call.json_body().get("message")
    if not isinstance(message, dict) or not isinstance(message.get("raw"), str):
        raise bad_request("Missing draft message")
    return decode_b64url(message["raw"]), message


def _draft(call: Call, draft_id: str) -> StoredMessage:
    mid = call.mailbox.drafts.get(draft_id)
    if mid is None or mid not in call.mailbox.messages:
        raise not_found()
    return call.mailbox.messages[mid]


def _resource(draft_id: str, msg: StoredMessage, fmt: str = "minimal") -> dict[str, Any]:
    if fmt == "minimal":
        return {"id": draft_id, "message": {"id": msg.id, "threadId": msg.thread_id}}
    return {"id": draft_id, "message": resources.message(msg, fmt, [])}


def drafts_create(call: Call) -> dict[str, Any]:
    raw, meta = _draft_body(call)
    thread_id = meta.get("threadId")
    if thread_id and thread_id not in call.mailbox.threads:
        raise not_found()
    msg = call.mailbox.add(raw, {"DRAFT"}, thread_id=thread_id or None)
    draft_id = "r" + msg.id  # Gmail's draft ids look like r-1234...; unique is what matters
    call.mailbox.drafts[draft_id] = msg.id
    return _resource(draft_id, msg)


def drafts_get(call: Call, id: str) -> dict[str, Any]:
    fmt = resources.check_format(call.request.args.get("format", "full"))
    return _resource(id, _draft(call, id), fmt)


def drafts_list(call: Call) -> dict[str, Any]:
    by_message = {mid: did for did, mid in call.mailbox.drafts.items()}
    found = [m for m in matching(call) if m.id in by_message]
    refs = [_resource(by_message[m.id], m) for m in found]
    return paginate(call, refs, "drafts")


def drafts_delete(call: Call, id: str) -> None:
    msg = _draft(call, id)
    del call.mailbox.drafts[id]
    call.mailbox.delete(msg)


def drafts_send(call: Call) -> dict[str, Any]:
    draft_id = call.json_body().get("id")
    if not draft_id or not isinstance(draft_id, str):
        raise bad_request("Missing draft id")
    msg = _draft(call, draft_id)
    in_thread = msg.thread_id if msg.thread_id != msg.id else None
    sent = delivery.send(call.state, call.quota, call.account, msg.raw, in_thread)
    del call.mailbox.drafts[draft_id]  # refused sends (400, 429) keep the draft
    call.mailbox.delete(msg)
    return {"id": sent.id, "threadId": sent.thread_id, "labelIds": sent.label_list()}

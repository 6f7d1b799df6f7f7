"""messages.*: list, get, send, insert, import, modify, trash, delete, attachments."""

import base64
from email.utils import parsedate_to_datetime
from typing import Any

from inboxcrm.sandbox import delivery, resources
from inboxcrm.sandbox.api.call import Call, label_ids, modify_labels, uploaded
from inboxcrm.sandbox.api.listing import matching, paginate
from inboxcrm.sandbox.errors import bad_request, not_found
from inboxcrm.sandbox.mime import decode_b64url, parse


def messages_list(call: Call) -> dict[str, Any]:
    refs = [{"id": m.id, "threadId": m.thread_id} for m in matching(call)]
    return paginate(call, refs, "messages")


def messages_get(call: Call, id: str) -> dict[str, Any]:
    fmt = resources.check_format(call.request.args.get("format", "full"))
    headers = call.request.args.getlist("metadataHeaders")
    return resources.message(call.message(id), fmt, headers)


def attachments_get(call: Call, message_id: str, id: str) -> dict[str, Any]:
    data = call.message(message_id).parsed.attachments.get(id)
    if data is None:
        raise not_found()
    return {"attachmentId": id, "size": len(data), "data": base64.urlsafe_b64encode(data).decode()}


def _raw_and_meta(call: Call) -> tuple[bytes, dict[str, Any]]:
    """The RFC 822 bytes and JSON metadata, from a JSON body or a media/multipart upload."""
    if (found := uploaded(call)) is not None:
        return found
    body = call.json_body()
    raw_text = body.get("raw")
    if not raw_text or not isinstance(raw_text, str):
        raise bad_request(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required"
        )
    return decode_b64url(raw_text), body


def messages_send(call: Call) -> dict[str, Any]:
    raw, meta = _raw_and_meta(call)
    thread_id = meta.get("threadId")
    sent = delivery.send(call.state, call.quota, call.account, raw, thread_id)
    return {"id": sent.id, "threadId": sent.thread_id, "labelIds": sent.label_list()}


def _store(call: Call, default_source: str) -> dict[str, Any]:
    raw, meta = _raw_and_meta(call)
    labels = label_ids(call, meta.get("labelIds"))
    source = call.request.args.get("internalDateSource", default_source)
    when = None
    if source == "dateHeader":
        try:
            date = parse(raw).header("date")
            when = int(parsedate_to_datetime(date).timestamp() * 1000) if date else None
        except (TypeError, ValueError):
            when = None
    thread_id = meta.get("threadId")
    tid = call.mailbox.find_thread(parse(raw), within=thread_id) if thread_id else None
    msg = call.mailbox.add(raw, labels, internal_date=when, thread_id=tid)
    return {"id": msg.id, "threadId": msg.thread_id, "labelIds": msg.label_list()}


def messages_insert(call: Call) -> dict[str, Any]:
    return _store(call, "receivedTime")


def messages_import(call: Call) -> dict[str, Any]:
    return _store(call, "dateHeader")


def messages_modify(call: Call, id: str) -> dict[str, Any]:
    msg = call.message(id)
    add, remove = modify_labels(call, call.json_body())
    call.mailbox.modify(msg, add, remove)
    return resources.label_ref(msg)


def messages_batch_modify(call: Call) -> None:
    body = call.json_body()
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > 1000:
        raise bad_request("Invalid ids")
    add, remove = modify_labels(call, body)
    for mid in ids:
        msg = call.mailbox.messages.get(str(mid))
        if msg is not None:
            call.mailbox.modify(msg, add, remove)


def messages_trash(call: Call, id: str) -> dict[str, Any]:
    msg = call.message(id)
    call.mailbox.modify(msg, {"TRASH"}, {"INBOX", "SPAM"})
    return resources.label_ref(msg)


def messages_untrash(call: Call, id: str) -> dict[str, Any]:
    msg = call.message(id)
    call.mailbox.modify(msg, set(), {"TRASH"})
    return resources.label_ref(msg)


def messages_delete(call: Call, id: str) -> None:
    call.mailbox.delete(call.message(id))

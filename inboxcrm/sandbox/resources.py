"""Gmail's JSON resources (Message, Thread, Label, History), per the discovery schema."""

from typing import Any

from inboxcrm.sandbox.errors import bad_request
from inboxcrm.sandbox.mime import b64url
from inboxcrm.sandbox.state import Mailbox, StoredMessage

FORMATS = ("full", "metadata", "minimal", "raw")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise bad_request(f"Invalid value at 'format' (TYPE_ENUM), \"{fmt}\"")
    return fmt


def message(
    msg: StoredMessage, fmt: str = "full", headers: list[str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": msg.id,
        "threadId": msg.thread_id,
        "labelIds": msg.label_list(),
        "snippet": msg.parsed.snippet,
    }
    if fmt == "full":
        out["payload"] = msg.parsed.payload
    elif fmt == "metadata":
        wanted = {h.lower() for h in headers or []}
        top = msg.parsed.payload
        out["payload"] = {
            "mimeType": top["mimeType"],
            "headers": [h for h in top["headers"] if not wanted or h["name"].lower() in wanted],
        }
    out["sizeEstimate"] = len(msg.raw)
    if fmt == "raw":
        out["raw"] = b64url(msg.raw)
    out["historyId"] = str(msg.history_id)
    out["internalDate"] = str(msg.internal_date)
    return out


def label_ref(msg: StoredMessage) -> dict[str, Any]:
    return {"id": msg.id, "threadId": msg.thread_id, "labelIds": msg.label_list()}


def thread(
    mailbox: Mailbox, tid: str, fmt: str = "full", headers: list[str] | None = None
) -> dict[str, Any]:
    msgs = [mailbox.messages[m] for m in mailbox.threads[tid]]
    return {
        "id": tid,
        "historyId": str(mailbox.thread_history_id(tid)),
        "messages": [message(m, fmt, headers) for m in msgs],
    }


def label_detail(mailbox: Mailbox, label_id: str) -> dict[str, Any]:
    label = mailbox.labels[label_id]
    msgs = [m for m in mailbox.messages.values() if label_id in m.label_ids]
    unread = [m for m in msgs if "UNREAD" in m.label_ids]
    return {
        **label.resource(),
        "messagesTotal": len(msgs),
        "messagesUnread": len(unread),
        "threadsTotal": len({m.thread_id for m in msgs}),
        "threadsUnread": len({m.thread_id for m in unread}),
    }

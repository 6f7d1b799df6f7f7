"""threads.*: list, get, modify, trash."""

from typing import Any

from inboxcrm.sandbox import resources
from inboxcrm.sandbox.api.call import Call, modify_labels
from inboxcrm.sandbox.api.listing import matching, paginate
from inboxcrm.sandbox.errors import bad_request, not_found
from inboxcrm.sandbox.state import StoredMessage


def threads_list(call: Call) -> dict[str, Any]:
    mb = call.mailbox
    seen: dict[str, None] = {}
    for msg in matching(call):
        seen.setdefault(msg.thread_id, None)
    threads = [
        {
            "id": tid,
            "snippet": mb.messages[mb.threads[tid][-1]].parsed.snippet,
            "historyId": str(mb.thread_history_id(tid)),
        }
        for tid in seen
    ]
    return paginate(call, threads, "threads")


def _thread(call: Call, tid: str) -> list[StoredMessage]:
    ids = call.mailbox.threads.get(tid)
    if ids is None:
        if not tid or any(c not in "0123456789abcdef" for c in tid.lower()):
            raise bad_request("Invalid id value")
        raise not_found()
    return [call.mailbox.messages[m] for m in ids]


def threads_get(call: Call, id: str) -> dict[str, Any]:
    _thread(call, id)
    fmt = resources.check_format(call.request.args.get("format", "full"))
    if fmt == "raw":
        raise bad_request("Invalid format: RAW is not supported for threads")
    return resources.thread(call.mailbox, id, fmt, call.request.args.getlist("metadataHeaders"))


def _thread_change(call: Call, tid: str, add: set[str], remove: set[str]) -> dict[str, Any]:
    msgs = _thread(call, tid)
    for msg in msgs:
        call.mailbox.modify(msg, add, remove)
    return {
        "id": tid,
        "historyId": str(call.mailbox.thread_history_id(tid)),
        "messages": [resources.label_ref(m) for m in msgs],
    }


def threads_modify(call: Call, id: str) -> dict[str, Any]:
    _thread(call, id)
    add, remove = modify_labels(call, call.json_body())
    return _thread_change(call, id, add, remove)


def threads_trash(call: Call, id: str) -> dict[str, Any]:
    return _thread_change(call, id, {"TRASH"}, {"INBOX", "SPAM"})


def threads_untrash(call: Call, id: str) -> dict[str, Any]:
    return _thread_change(call, id, set(), {"TRASH"})

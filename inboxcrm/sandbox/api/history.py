"""history.list: changes since a history id, paged, 404 once expired."""

from typing import Any

from inboxcrm.sandbox.api.call import Call
from inboxcrm.sandbox.api.listing import MAX_PAGE, page_offset, page_token
from inboxcrm.sandbox.errors import bad_request, not_found

HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")


def history_list(call: Call) -> dict[str, Any]:
    args = call.request.args
    mb = call.mailbox
    start_text = args.get("startHistoryId")
    if not start_text:
        raise bad_request("Required parameter: startHistoryId")
    if not start_text.isdigit():
        raise bad_request(f"Invalid value at 'start_history_id' (TYPE_UINT64), \"{start_text}\"")
    start = int(start_text)
    if start < mb.expired_before():
        raise not_found()
    types = set(args.getlist("historyTypes")) or set(HISTORY_TYPES)
    if not types <= set(HISTORY_TYPES):
        raise bad_request("Invalid value at 'history_types' (TYPE_ENUM)")
    label_id = args.get("labelId")
    if label_id and label_id not in mb.labels:
        raise bad_request(f"Invalid label: {label_id}")
    size = call.int_arg("maxResults", 100, MAX_PAGE)
    after = max(start, page_offset(call))
    records = [
        rec
        for rec in mb.history
        if rec.id > after
        and rec.kind in types
        and (not label_id or label_id in rec.label_ids or label_id in rec.changed)
    ]
    out: dict[str, Any] = {}
    if records[:size]:
        out["history"] = [rec.resource() for rec in records[:size]]
    if len(records) > size:
        out["nextPageToken"] = page_token(records[size - 1].id)
    out["historyId"] = str(mb.history_id)
    return out

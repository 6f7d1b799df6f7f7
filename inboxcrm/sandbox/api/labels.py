"""getProfile and labels.*."""

from typing import Any

from inboxcrm.sandbox import resources
from inboxcrm.sandbox.api.call import Call
from inboxcrm.sandbox.errors import ApiError, bad_request, not_found
from inboxcrm.sandbox.labels import Label, is_reserved


def get_profile(call: Call) -> dict[str, Any]:
    mb = call.mailbox
    return {
        "emailAddress": call.account.email,
        "messagesTotal": len(mb.messages),
        "threadsTotal": len(mb.threads),
        "historyId": str(mb.history_id),
    }


def labels_list(call: Call) -> dict[str, Any]:
    return {"labels": [lb.resource() for lb in call.mailbox.labels.values()]}


def _label(call: Call, label_id: str) -> Label:
    label = call.mailbox.labels.get(label_id)
    if label is None:
        raise not_found()
    return label


def labels_get(call: Call, id: str) -> dict[str, Any]:
    _label(call, id)
    return resources.label_detail(call.mailbox, id)


def _apply_label_fields(call: Call, label: Label, body: dict[str, Any]) -> None:
    name = body.get("name", label.name)
    if not isinstance(name, str) or not name.strip() or len(name) > 225 or is_reserved(name):
        raise bad_request("Invalid label name")
    other = call.mailbox.label_by_name(name.strip())
    if other is not None and other.id != label.id:
        raise ApiError(409, "Label name exists or conflicts")
    label.name = name.strip()
    if "messageListVisibility" in body:
        label.message_list_visibility = _choice(body, "messageListVisibility", ("show", "hide"))
    if "labelListVisibility" in body:
        label.label_list_visibility = _choice(
            body, "labelListVisibility", ("labelShow", "labelShowIfUnread", "labelHide")
        )
    if "color" in body:
        color = body["color"]
        if not isinstance(color, dict) or not {"textColor", "backgroundColor"} <= color.keys():
            raise bad_request("Invalid label color")
        label.color = {k: str(color[k]) for k in ("textColor", "backgroundColor")}


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = body[key]
    if value not in allowed:
        raise bad_request(f"Invalid value at 'label.{key}' (TYPE_ENUM), \"{value}\"")
    return str(value)


def labels_create(call: Call) -> dict[str, Any]:
    body = call.json_body()
    if "name" not in body:
        raise bad_request("Invalid label name")
    label = Label(id="", name="")
    _apply_label_fields(call, label, body)
    label.id = call.mailbox.new_label_id()
    call.mailbox.labels[label.id] = label
    return label.resource()


def labels_patch(call: Call, id: str) -> dict[str, Any]:
    label = _label(call, id)
    if label.type == "system":
        raise bad_request("Invalid update request")
    _apply_label_fields(call, label, call.json_body())
    return label.resource()


def labels_delete(call: Call, id: str) -> None:
    label = _label(call, id)
    if label.type == "system":
        raise bad_request("Invalid delete request")
    for msg in list(call.mailbox.messages.values()):
        if id in msg.label_ids:
            call.mailbox.modify(msg, set(), {id})
    del call.mailbox.labels[id]

"""Gmail's label catalogue: the system labels every mailbox has, and user labels."""

from dataclasses import dataclass, field
from typing import Any

SYSTEM_LABELS = (
    "INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "CHAT",
    "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)  # fmt: skip
# Gmail hides these from the label list in its UI; the API still reports them.
_HIDDEN = {"UNREAD", "STARRED", "IMPORTANT", "CHAT", "DRAFT", "SENT", "SPAM", "TRASH"}


_RESERVED = {name.lower() for name in SYSTEM_LABELS} | {
    "drafts", "chats", "muted", "sent mail", "all mail", "spam", "bin", "snoozed", "scheduled",
}  # fmt: skip


def is_reserved(name: str) -> bool:
    """Names Gmail refuses for user labels (400 "Invalid label name"), in any case."""
    return name.strip().lower() in _RESERVED


@dataclass
class Label:
    id: str
    name: str
    type: str = "user"
    message_list_visibility: str | None = "show"
    label_list_visibility: str | None = "labelShow"
    color: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.message_list_visibility:
            out["messageListVisibility"] = self.message_list_visibility
        if self.label_list_visibility:
            out["labelListVisibility"] = self.label_list_visibility
        out["type"] = self.type
        if self.color:
            out["color"] = dict(self.color)
        return out


def system_labels() -> dict[str, Label]:
    out = {}
    for name in SYSTEM_LABELS:
        hidden = name in _HIDDEN or name.startswith("CATEGORY_")
        out[name] = Label(
            id=name,
            name=name,
            type="system",
            message_list_visibility=None if hidden else "hide",
            label_list_visibility="labelHide" if hidden else "labelShow",
        )
    return out

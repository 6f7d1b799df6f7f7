"""GET /api/v1/leads/<id>/messages: a lead's emails, each once, as privacy allows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from inboxcrm.errors import BadRequest
from inboxcrm.leads.models import Lead
from inboxcrm.leads.timeline import PER_PAGE, lead_messages
from inboxcrm.mail.models import Message
from inboxcrm.mail.privacy import MailAccess
from inboxcrm.mail.sanitize import html_to_text, sanitize_html
from inboxcrm.web import member, scope

bp = Blueprint("timeline", __name__)  # a lead's emails, under /api/v1


def _int(name: str, default: int) -> int:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw!r}") from None


def message_json(message: Message, readable: bool, images: bool) -> dict[str, Any]:
    """An email; unless `readable` (a mailbox shared as subject and participants), its
    envelope only: snippet, bodies and attachments are null."""
    body: dict[str, Any] = {
        "snippet": None,
        "body_text": None,
        "body_html": None,
        "attachments": None,
    }
    if readable:
        html = message.body_html
        body = {
            "snippet": message.snippet,
            "body_text": message.body_text or (html_to_text(html) if html else None),
            # Email HTML is untrusted: what leaves the API is sanitized, like what is shown.
            "body_html": sanitize_html(html, allow_remote_images=images) if html else None,
            "attachments": [
                {
                    "filename": a.get("filename"),
                    "mime_type": a.get("mime_type"),
                    "size": a.get("size"),
                }
                for a in message.attachments or []
                if isinstance(a, dict)
            ],
        }
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "rfc_message_id": message.rfc_message_id,
        "direction": message.direction.value,
        "from": message.from_addr,
        "to": message.to_addrs,
        "cc": message.cc_addrs,
        "subject": message.subject,
        "sent_at": message.sent_at.isoformat(),
        "content": "full" if readable else "metadata",
        **body,
    }


@bp.get("/leads/<int:lead_id>/messages")
def lead_messages_api(lead_id: int) -> dict[str, Any]:
    s = scope()
    lead = s.get(Lead, lead_id)
    page = lead_messages(
        s,
        MailAccess.of(s.session, member()),
        lead.id,
        page=_int("page", 1),
        per_page=_int("per_page", PER_PAGE),
    )
    images = request.args.get("images") == "1"
    return {
        "messages": [message_json(m, readable, images) for m, readable in page.messages],
        "page": page.page,
        "per_page": page.per_page,
        "next_page": page.page + 1 if page.more else None,
    }

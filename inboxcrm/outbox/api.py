"""The outbox under /api/v1: a mailbox's quota meter and cap, the workspace's sending
settings, a lead's sends, a one-off email to a lead, and a lead's suppressions (read them,
add a "Do not email", lift one)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from inboxcrm.accounts.models import Mailbox, Role
from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.leads.blocklist import display_pattern
from inboxcrm.leads.models import Lead
from inboxcrm.outbox import pacing
from inboxcrm.outbox.meter import meter
from inboxcrm.outbox.models import OutboxSettings, Send, Suppression
from inboxcrm.outbox.oneoff import email_lead
from inboxcrm.outbox.service import sending_of
from inboxcrm.outbox.settings import outbox_settings, save_settings
from inboxcrm.outbox.suppression import describe, do_not_email, lead_suppressions, lift
from inboxcrm.web import db_session, member, scope

bp = Blueprint("outbox", __name__)  # under /api/v1


def send_json(send: Send) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": send.id,
        "source": {"kind": send.source_kind.value, "id": send.source_id},
        "lead_id": send.lead_id,
        "mailbox_id": send.mailbox_id,
        "to": send.to_email,
        "subject": send.subject,
        "state": send.state.value,
        "reason": send.reason.value if send.reason else None,
        "error": send.error,
        "due_at": at(send.due_at),
        "sent_at": at(send.sent_at),
        "message_id": send.message_id,
        "gmail_id": send.gmail_id,
        "gmail_thread_id": send.gmail_thread_id,
    }


def _mailbox(mailbox_id: int) -> Mailbox:
    box = scope().get(Mailbox, mailbox_id)
    me = member()
    if box.member_id != me.id and me.role is not Role.admin:
        raise Forbidden("only the mailbox's owner and admins see its sending")
    return box


@bp.get("/mailboxes/<int:mailbox_id>/sending")
def sending(mailbox_id: int) -> dict[str, Any]:
    """The quota meter: sent in the last 24 h, the cap, the next free slot, what is queued."""
    return meter(db_session(), _mailbox(mailbox_id), utcnow()).as_json()


@bp.patch("/mailboxes/<int:mailbox_id>/sending")
def set_sending(mailbox_id: int) -> dict[str, Any]:
    """`daily_cap`: sends over a rolling 24 hours (null: 80 % of Gmail's limit)."""
    box = _mailbox(mailbox_id)
    body = json_object()
    cap = body.get("daily_cap")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int)):
        raise Invalid("daily_cap must be a whole number or null", {"daily_cap": "not a number"})
    if cap is not None and not 1 <= cap <= pacing.WORKSPACE_LIMIT:
        raise Invalid(
            f"daily_cap goes from 1 to {pacing.WORKSPACE_LIMIT}", {"daily_cap": "out of range"}
        )
    session = db_session()
    sending_of(session, box).daily_cap = cap
    session.commit()
    return meter(session, box, utcnow()).as_json()


@bp.get("/leads/<int:lead_id>/sends")
def lead_sends(lead_id: int) -> dict[str, Any]:
    s = scope()
    lead = s.get(Lead, lead_id)
    rows = s.session.scalars(
        s.select(Send, Send.lead_id == lead.id).order_by(Send.created_at.desc(), Send.id.desc())
    )
    return {"sends": [send_json(r) for r in rows]}


@bp.post("/leads/<int:lead_id>/sends")
def email(lead_id: int) -> tuple[dict[str, Any], int]:
    """A one-off email from your own Gmail: `subject`, `text`, `key` (any 16-64 letters,
    digits, - or _: the same key is the same email), `thread_id` to reply in a thread."""
    s = scope()
    body = json_object()
    thread_id = body.get("thread_id")
    if thread_id is not None and (isinstance(thread_id, bool) or not isinstance(thread_id, int)):
        raise Invalid("thread_id must be a number", {"thread_id": "not a number"})
    fields = {name: body.get(name) for name in ("subject", "text", "key")}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise Invalid(f"{name} must be a string", {name: "not a string"})
    send = email_lead(
        s,
        member(),
        s.get(Lead, lead_id),
        key=fields["key"] or "",
        subject=fields["subject"] or "",
        text=fields["text"] or "",
        now=utcnow(),
        thread_id=thread_id,
    )
    s.session.commit()
    return send_json(send), 202


def suppression_json(row: Suppression) -> dict[str, Any]:
    return {
        "id": row.id,
        "pattern": display_pattern(row.pattern),
        "reason": row.reason.value,
        "source": row.source,
        "why": describe(row),
        "suppressed_at": row.suppressed_at.isoformat(),
        "message_id": row.message_id,
        "send": row.send_ref,
        "liftable": row.reason.value == "manual",
    }


@bp.get("/leads/<int:lead_id>/suppressions")
def suppressions(lead_id: int) -> dict[str, Any]:
    lead = scope().get(Lead, lead_id)
    found = lead_suppressions(db_session(), lead)
    return {"suppressed": {a: suppression_json(r) for a, r in sorted(found.items())}}


@bp.post("/leads/<int:lead_id>/suppressions")
def add(lead_id: int) -> tuple[dict[str, Any], int]:
    lead = scope().get(Lead, lead_id)
    body = json_object()
    address = body.get("address")
    if address is not None and not isinstance(address, str):
        raise Invalid("address must be a string", {"address": "not a string"})
    row = do_not_email(scope(), member(), lead, address, utcnow())
    db_session().commit()
    return suppression_json(row), 201


@bp.delete("/leads/<int:lead_id>/suppressions/<int:suppression_id>")
def remove(lead_id: int, suppression_id: int) -> tuple[str, int]:
    lead = scope().get(Lead, lead_id)
    lift(scope(), member(), lead, suppression_id)
    db_session().commit()
    return "", 204


def settings_json(row: OutboxSettings) -> dict[str, Any]:
    return {
        "postal_address": row.postal_address,
        "tracking": row.tracking,
        "frequency_cap": row.frequency_cap,
        "cap_first": row.cap_first.value,
    }


@bp.get("/settings/sending")
def sending_settings() -> dict[str, Any]:
    """The workspace's sending settings: the postal address campaigns carry, open and click
    tracking, campaign emails a lead gets a week at most, and which kind goes first
    within a mailbox's daily cap (sequences or campaigns)."""
    return settings_json(outbox_settings(db_session(), member().workspace_id))


_TYPES = {"postal_address": str, "tracking": bool, "frequency_cap": int, "cap_first": str}


@bp.patch("/settings/sending")
def set_sending_settings() -> dict[str, Any]:
    """Admins change any of the settings; those not given stay as they are."""
    body = json_object()
    problems = {
        key: f"not {kind.__name__}"
        for key, kind in _TYPES.items()
        if key in body and (type(body[key]) is not kind)
    }
    if unknown := sorted(set(body) - set(_TYPES)):
        problems |= dict.fromkeys(unknown, "not a sending setting")
    if problems:
        raise Invalid("the sending settings could not be read", problems)
    session = db_session()
    saved = outbox_settings(session, member().workspace_id)
    row = save_settings(
        session,
        member(),
        body.get("postal_address", saved.postal_address),
        body.get("tracking", saved.tracking),
        body.get("frequency_cap"),
        body.get("cap_first"),
    )
    session.commit()
    return settings_json(row)

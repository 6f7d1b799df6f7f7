"""The outbox's pages: a one-off email from the lead page, and what the lead page and the
Gmail page show of sending (template globals, registered by the app factory)."""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Mailbox
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.meter import Meter, meter
from inboxcrm.outbox.models import Send
from inboxcrm.outbox.oneoff import email_lead
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("outbox", __name__)

STATE_WORDS = {
    "planned": "queued",
    "claimed": "sending",
    "committed": "sending",
    "sent": "sent",
    "skipped": "not sent",
    "failed": "failed",
}


@bp.post("/leads/<int:lead_id>/email")
@login_required
def email(lead_id: int) -> Response:
    s = scope()
    lead = s.get(Lead, lead_id)
    raw_thread = request.form.get("thread_id", "")
    try:
        thread_id = int(raw_thread) if raw_thread else None
        email_lead(
            s,
            member(),
            lead,
            key=request.form.get("key", ""),
            subject=request.form.get("subject", ""),
            text=request.form.get("text", ""),
            now=utcnow(),
            thread_id=thread_id,
        )
    except ValueError:
        flash("Nothing was sent: that thread could not be read.", "error")
    except DomainError as exc:
        db_session().rollback()
        flash(f"Nothing was sent: {exc.message}", "error")
    else:
        db_session().commit()
        flash("Email queued: it goes from your Gmail in a moment and shows here once sent.")
    return redirect(url_for("leads.show", lead_id=lead.id, _anchor="email"))


def lead_sends(lead_id: int) -> list[Send]:
    """The lead's sends, newest first (the lead page's list)."""
    s = scope()
    return list(
        s.session.scalars(
            s.select(Send, Send.lead_id == lead_id)
            .order_by(Send.created_at.desc(), Send.id.desc())
            .limit(20)
        )
    )


def sending_meter(mailbox: Mailbox) -> Meter:
    return meter(db_session(), mailbox, utcnow())


def send_key() -> str:
    """A fresh key for one compose form: submitting it twice is one email."""
    return secrets.token_urlsafe(24)

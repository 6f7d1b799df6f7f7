"""The outbox's pages for members: a one-off email from the lead page, "Do not email" and
lifting it, the sending settings; and what the lead page and the Gmail page show of
sending (template globals, registered by the app factory). The URLs a sent email carries
are in `public.py`."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Mailbox
from inboxcrm.config import Settings
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Forbidden, Invalid
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.meter import Meter, meter
from inboxcrm.outbox.models import MailboxSending
from inboxcrm.outbox.oneoff import email_lead
from inboxcrm.outbox.service import sending_of
from inboxcrm.outbox.settings import outbox_settings, save_settings
from inboxcrm.outbox.suppression import do_not_email, lift
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("outbox", __name__)


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


def sending_meter(mailbox: Mailbox) -> Meter:
    return meter(db_session(), mailbox, utcnow())


def allows_campaigns(mailbox: Mailbox) -> bool:
    """Whether the mailbox's owner lets other members send campaigns from it."""
    found = db_session().scalar(
        select(MailboxSending.allow_campaigns).where(MailboxSending.mailbox_id == mailbox.id)
    )
    return bool(found)


@bp.post("/mailboxes/<int:mailbox_id>/campaigns")
@login_required
def campaign_consent(mailbox_id: int) -> Response:
    """The owner's "allow campaigns from my mailbox": only the owner decides."""
    s, me = scope(), member()
    mailbox = s.get(Mailbox, mailbox_id)
    if mailbox.member_id != me.id:
        raise Forbidden("only the mailbox's owner decides who sends campaigns from it")
    allow = request.form.get("allow") == "1"
    sending_of(db_session(), mailbox).allow_campaigns = allow
    db_session().commit()
    flash(
        f"Campaigns by other members {'may' if allow else 'may no longer'} go from {mailbox.email}."
    )
    return redirect(url_for("accounts.mailboxes"))


@bp.post("/leads/<int:lead_id>/suppress")
@login_required
def suppress_lead(lead_id: int) -> Response:
    s = scope()
    lead = s.get(Lead, lead_id)
    row = do_not_email(s, member(), lead, request.form.get("address") or None, utcnow())
    db_session().commit()
    flash(f"{row.pattern} is marked “Do not email”: no mailbox sends to it.")
    return redirect(url_for("leads.show", lead_id=lead.id))


@bp.post("/leads/<int:lead_id>/suppressions/<int:suppression_id>/lift")
@login_required
def lift_suppression(lead_id: int, suppression_id: int) -> Response:
    s = scope()
    lead = s.get(Lead, lead_id)
    lifted = lift(s, member(), lead, suppression_id)
    db_session().commit()
    flash(f"{lifted} may be emailed again.")
    return redirect(url_for("leads.show", lead_id=lead.id))


def _frequency(raw: str | None) -> int | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid("the frequency cap is a whole number", {"frequency_cap": "not a number"})
    return int(text)


@bp.route("/settings/sending", methods=["GET", "POST"])
@login_required
def sending_settings() -> str | Response:
    me = member()
    if request.method == "POST":
        save_settings(
            db_session(),
            me,
            request.form.get("postal_address", ""),
            request.form.get("tracking") == "1",
            _frequency(request.form.get("frequency_cap")),
            request.form.get("cap_first") or None,
        )
        db_session().commit()
        flash("Sending settings saved.")
        return redirect(url_for("outbox.sending_settings"))
    settings: Settings = current_app.extensions["inboxcrm.settings"]
    return render_template(
        "outbox/settings.html",
        saved=outbox_settings(db_session(), me.workspace_id),
        trusted_proxies=settings.trusted_proxies,
    )

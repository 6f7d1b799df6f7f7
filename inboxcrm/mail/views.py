"""An email's body as its own sandboxed document; a thread's privacy; a mailbox's visibility."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Mailbox, Visibility
from inboxcrm.errors import Invalid, NotFound
from inboxcrm.mail.models import Message, Thread
from inboxcrm.mail.privacy import MailAccess, set_private, set_visibility, visible_thread
from inboxcrm.mail.sanitize import sanitize_html
from inboxcrm.web import db_session, login_required, member, same_origin_path, scope

bp = Blueprint("mail", __name__)


def body_policy(images: bool) -> str:
    """The body's own Content-Security-Policy: nothing runs, nothing loads but inline images
    (and https images once the viewer asks), and the document is sandboxed even when opened
    outside its iframe. Popups stay allowed so the email's links open in a new tab."""
    return "; ".join(
        (
            "default-src 'none'",
            "img-src data: cid:" + (" https:" if images else ""),
            "style-src 'unsafe-inline'",
            "font-src data:",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
            "sandbox allow-popups allow-popups-to-escape-sandbox",
        )
    )


def _back(default: str) -> str:
    return same_origin_path(request.form.get("next"), default)


@bp.get("/messages/<int:message_id>/body")
@login_required
def body(message_id: int) -> Response:
    s = scope()
    message = s.find(Message, message_id)
    thread = s.session.get(Thread, message.thread_id) if message else None
    if message is None or thread is None or not MailAccess.of(s.session, member()).reads(thread):
        raise NotFound(f"message {message_id} not found")
    images = request.args.get("images") == "1"
    html = (
        sanitize_html(message.body_html, allow_remote_images=images) if message.body_html else None
    )
    response = make_response(
        render_template(
            "mailbox/body.html",
            html=Markup(html) if html is not None else None,  # noqa: S704  (sanitized just now)
            text=message.body_text or "",
        )
    )
    response.headers["Content-Security-Policy"] = body_policy(images)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/threads/<int:thread_id>/private")
@login_required
def private(thread_id: int) -> Response:
    s = scope()
    access = MailAccess.of(s.session, member())
    thread = visible_thread(s, access, thread_id)
    make = request.form.get("private") == "1"
    set_private(access, thread, make)
    db_session().commit()
    flash(
        "The thread is private: only you see it."
        if make
        else "The thread is no longer private: the team sees it as your mailbox allows."
    )
    return redirect(_back(url_for("leads.index")))


@bp.post("/mailboxes/<int:mailbox_id>/visibility")
@login_required
def visibility(mailbox_id: int) -> Response:
    mailbox = scope().get(Mailbox, mailbox_id)
    raw = request.form.get("visibility", "")
    if raw not in Visibility.__members__:
        raise Invalid(f"visibility must be one of {', '.join(Visibility)}")
    set_visibility(member(), mailbox, Visibility(raw))
    db_session().commit()
    flash(f"Saved: the team now sees {VISIBILITY_WORDS[mailbox.visibility]} of {mailbox.email}.")
    return redirect(url_for("accounts.mailboxes"))


VISIBILITY_WORDS = {
    Visibility.full: "everything",
    Visibility.metadata: "subjects and participants only",
    Visibility.none: "nothing",
}

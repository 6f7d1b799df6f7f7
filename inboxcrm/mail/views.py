"""An email's body as its own sandboxed document; a thread's privacy; a mailbox's visibility."""

from __future__ import annotations

from urllib.parse import quote

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response

from inboxcrm.accounts.connection import request_calls
from inboxcrm.accounts.models import Mailbox, Visibility
from inboxcrm.accounts.service import google_client
from inboxcrm.errors import Invalid, NotFound
from inboxcrm.gmail.calls import AttachmentGone, GmailUnavailable, GrantRevoked
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
            # Same origin, so the lead page can fit the frame to the body; never scripts.
            "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox",
        )
    )


def _back(default: str) -> str:
    return same_origin_path(request.form.get("next"), default)


@bp.get("/messages/<int:message_id>/body")
@login_required
def body(message_id: int) -> Response:
    message = _readable_message(message_id)
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


def _readable_message(message_id: int) -> Message:
    """A message whose body and attachments the member may read; 404 otherwise, so a
    private or unshared one cannot be told apart from a missing one."""
    s = scope()
    message = s.find(Message, message_id)
    thread = s.session.get(Thread, message.thread_id) if message else None
    if message is None or thread is None or not MailAccess.of(s.session, member()).reads(thread):
        raise NotFound(f"message {message_id} not found")
    return message


def _download_name(filename: str) -> str:
    """Content-Disposition for a name from the mail: ASCII for old clients, UTF-8 for
    the rest; quotes, slashes and controls never reach the header."""
    clean = "".join(c for c in filename if c.isprintable() and c not in '"\\/') or "attachment"
    ascii_name = clean.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


@bp.get("/messages/<int:message_id>/attachments/<int:index>")
@login_required
def attachment(message_id: int, index: int) -> Response | tuple[str, int]:
    """An attachment, fetched from Gmail (attachments.get) through the mailbox the copy
    came from, as the mailbox's sharing allows; always a download, never shown inline:
    its type is whatever the sender said, so it is served as bytes."""
    message = _readable_message(message_id)
    items = message.attachments or []
    item = items[index] if 0 <= index < len(items) else None
    if not isinstance(item, dict) or not item.get("attachment_id"):
        raise NotFound(f"attachment {index} of message {message_id} not found")
    mailbox = db_session().get_one(Mailbox, message.mailbox_id)
    settings = current_app.extensions["inboxcrm.settings"]
    if google_client(settings) is None:
        problem = "Gmail is not set up on this server (INBOXCRM_GOOGLE_CLIENT_ID)."
        return render_template("error.html", status=503, message=problem), 503
    try:
        data = request_calls(settings, mailbox).attachment(
            message.gmail_id, str(item["attachment_id"])
        )
    except LookupError:
        owner = mailbox.member.name or mailbox.member.email
        problem = (
            f"{mailbox.email} is not connected, so its attachments cannot be fetched: "
            f"{owner} can reconnect it on the Gmail page."
        )
        return render_template("error.html", status=409, message=problem), 409
    except AttachmentGone:
        raise NotFound("Gmail no longer has this attachment: the message was deleted.") from None
    except GrantRevoked:
        owner = mailbox.member.name or mailbox.member.email
        problem = (
            f"Google refused inboxcrm's access to {mailbox.email}, so its attachments cannot "
            f"be fetched: {owner} can reconnect it on the Gmail page."
        )
        return render_template("error.html", status=409, message=problem), 409
    except GmailUnavailable as exc:
        current_app.logger.warning("attachment of message %s: %s", message.id, exc)
        problem = "Gmail did not answer in time. Try again in a minute."
        return render_template("error.html", status=503, message=problem), 503
    response = make_response(data)
    response.headers["Content-Type"] = "application/octet-stream"
    response.headers["Content-Disposition"] = _download_name(str(item.get("filename") or ""))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
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

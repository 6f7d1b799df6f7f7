"""The URLs a sent email carries, answered to anyone without cookies or CSRF tokens (the
signed token is the authority): `/u/TOKEN` to unsubscribe, `/t/o/TOKEN.gif` (the open
pixel), `/t/c/TOKEN` (a click redirect) and `/t/h/TOKEN` (the link only machines follow)."""

from __future__ import annotations

import base64

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from inboxcrm.db import utcnow
from inboxcrm.outbox.hits import HitWriter
from inboxcrm.outbox.models import HitKind
from inboxcrm.outbox.tracking import Tracked
from inboxcrm.outbox.unsubscribe import ONE_CLICK, Recipient, unsubscribe
from inboxcrm.web import db_session

public = Blueprint("outbox_public", __name__)

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}


@public.record_once
def _writer(state: object) -> None:
    app = state.app  # type: ignore[attr-defined]
    app.extensions["inboxcrm.hits"] = HitWriter(app.extensions["inboxcrm.db"])


def _secret() -> str:
    return str(current_app.secret_key)


def _bad_link() -> tuple[str, int]:
    message = (
        "This unsubscribe link is not valid: it may have been cut short or changed. "
        "Reply to the email with “unsubscribe” and we will stop writing."
    )
    return render_template("outbox/unsubscribe.html", bad=True, message=message), 400


@public.get("/u/<token>")
def unsubscribe_page(token: str) -> tuple[str, int] | str:
    """A page that asks to confirm: a GET (a link scanner's, a preview's) changes nothing."""
    recipient = Recipient.read(_secret(), token)
    if recipient is None:
        return _bad_link()
    return render_template("outbox/unsubscribe.html", recipient=recipient, token=token)


@public.post("/u/<token>")
def unsubscribe_now(token: str) -> tuple[str, int] | str:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click`), or the confirm button: at once."""
    recipient = Recipient.read(_secret(), token)
    if recipient is None:
        return _bad_link()
    one_click = request.form.get("List-Unsubscribe") == ONE_CLICK.split("=", 1)[1]
    if not one_click and request.form.get("confirm") != "1":
        message = f"To unsubscribe, send {ONE_CLICK} or press the button on this page."
        return render_template(
            "outbox/unsubscribe.html", recipient=recipient, token=token, message=message
        ), 400
    source = "one_click" if one_click else "confirm"
    unsubscribe(db_session(), recipient, source, utcnow())
    db_session().commit()
    return render_template("outbox/unsubscribe.html", recipient=recipient, done=True)


def _hit(kind: HitKind, sent: Tracked) -> None:
    now = utcnow()
    writer: HitWriter = current_app.extensions["inboxcrm.hits"]
    writer.record({
        "workspace_id": sent.workspace_id, "lead_id": sent.lead_id, "send_ref": sent.send[:64],
        "kind": kind, "url": sent.url, "method": request.method,
        "user_agent": (request.user_agent.string or "")[:500],
        "ip": (request.remote_addr or "")[:45], "at": now, "sent_at": sent.sent_at,
        "classify_at": now,
    })  # fmt: skip


@public.get("/t/o/<token>.gif")
def pixel(token: str) -> Response:
    """The open pixel: always the image, whatever the token (and HEAD too)."""
    sent = Tracked.read(_secret(), HitKind.open, token)
    if sent is not None:
        _hit(HitKind.open, sent)
    return Response(PIXEL, mimetype="image/gif", headers=NO_CACHE)


@public.get("/t/c/<token>")
def click(token: str) -> Response | tuple[str, int]:
    """A tracked link: to the URL its token carries, which was in the message, and nowhere
    else (no open redirect)."""
    sent = Tracked.read(_secret(), HitKind.click, token)
    if sent is None or sent.url is None:
        message = "This link is not valid: it may have been cut short or changed."
        return render_template("error.html", status=400, message=message), 400
    _hit(HitKind.click, sent)
    return Response(status=302, headers={"Location": sent.url, **NO_CACHE})


@public.get("/t/h/<token>")
def trap(token: str) -> Response:
    """The link hidden from people: whoever follows it is a machine."""
    sent = Tracked.read(_secret(), HitKind.trap, token)
    if sent is not None:
        _hit(HitKind.trap, sent)
    return Response("", status=200, mimetype="text/plain", headers=NO_CACHE)

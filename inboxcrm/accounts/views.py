"""Sign in with Google (which connects Gmail), one-time links for the CLI, sign-out."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

import requests
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wrappers import Response

from inboxcrm.accounts.crypto import TokenBox, TokenUnreadable
from inboxcrm.accounts.models import Mailbox, Role
from inboxcrm.accounts.progress import SyncProgress, poll_lag, progress_of
from inboxcrm.accounts.service import (
    connect_mailbox,
    consume_signin,
    disconnect_mailbox,
    google_client,
    mailboxes_of,
    member_for_google,
    member_for_signin,
    set_timezone,
    zone_names,
)
from inboxcrm.accounts.sessions import (
    ABSOLUTE_LIFETIME,
    IDLE_LIFETIME,
    end_all_sessions,
    is_token_of,
    sessions_of,
)
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Forbidden
from inboxcrm.gmail import signin as google
from inboxcrm.gmail.signin import GoogleClient
from inboxcrm.web import (
    current_member,
    db_session,
    end_member_session,
    login_required,
    member,
    same_origin_path,
    scope,
    start_member_session,
)

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    return same_origin_path(target, url_for("leads.index"))


@bp.get("/signin")
def signin() -> str | Response:
    if current_member() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template(
        "accounts/signin.html",
        google=google_client(current_app.extensions["inboxcrm.settings"]) is not None,
    )


@bp.route("/signin/<token>", methods=["GET", "POST"])
def signin_link(token: str) -> tuple[str, int] | str | Response:
    # GET only asks: mail scanners open links, and must not spend a one-time link.
    found = member_for_signin(db_session(), token, current_app.config["SECRET_KEY"])
    if found is None:
        google = google_client(current_app.extensions["inboxcrm.settings"]) is not None
        return render_template("accounts/signin.html", expired=True, google=google), 400
    if request.method == "GET":
        return render_template("accounts/confirm.html", member=found)
    consume_signin(found)
    start_member_session(found)  # commits the spent link with the new session
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/signout")
def signout() -> Response:
    end_member_session()
    return redirect(url_for("accounts.signin"))


@bp.get("/account")
@login_required
def account() -> str:
    """The member's own page: who they are, and where they are signed in."""
    me = member()
    return render_template(
        "accounts/account.html",
        zones=zone_names(),
        sessions=sessions_of(db_session(), me, utcnow()),
        current=g.session_token,
        is_token_of=is_token_of,
        idle=IDLE_LIFETIME,
        absolute=ABSOLUTE_LIFETIME,
    )


@bp.post("/account/timezone")
@login_required
def timezone() -> Response | tuple[dict[str, Any], int] | dict[str, Any]:
    """Chosen on the account page, or sent once by the browser (`from_browser=1`) at the
    first page a member opens."""
    from_browser = request.form.get("from_browser") == "1"
    try:
        changed = set_timezone(member(), request.form.get("timezone", ""), utcnow(), from_browser)
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        if from_browser:
            return {"error": {"status": exc.status, "message": exc.message}}, exc.status
        flash(exc.message, "error")
        return redirect(url_for("accounts.account"))
    if from_browser:
        return {"timezone": member().timezone, "changed": changed}
    flash(f"Times now show in {member().timezone}." if changed else "Nothing changed.")
    return redirect(url_for("accounts.account"))


@bp.post("/account/signout-everywhere")
@login_required
def signout_everywhere() -> Response:
    """End every session of this member, on every browser, this one included."""
    ended = end_all_sessions(db_session(), member())
    db_session().commit()
    session.clear()
    flash(f"Signed out everywhere ({ended} session{'s' if ended != 1 else ''} ended).")
    return redirect(url_for("accounts.signin"))


def _google() -> GoogleClient:
    client = google_client(current_app.extensions["inboxcrm.settings"])
    if client is None:
        raise ServiceUnavailable("Sign in with Google is not set up: INBOXCRM_GOOGLE_CLIENT_ID")
    return client


def _redirect_uri() -> str:
    return f"{current_app.extensions['inboxcrm.settings'].base_url}/auth/google/callback"


def _refused(message: str, status: int) -> tuple[str, int]:
    return render_template("accounts/signin.html", problem=message, google=True), status


@bp.get("/auth/google")
def google_start() -> Response:
    url, state, verifier = google.start(
        _google(), _redirect_uri(), request.args.get("login_hint", "")
    )
    # The PKCE verifier and state live in the signed session until Google sends the user back.
    session["google"] = {
        "state": state,
        "verifier": verifier,
        "next": _safe_next(request.args.get("next")),
    }
    return redirect(url)


@bp.get("/auth/google/callback")
def google_callback() -> Response | tuple[str, int]:
    pending = session.pop("google", None)
    if request.args.get("error"):
        return _refused("Google sign-in was cancelled; nothing was connected.", 400)
    if not pending or not hmac.compare_digest(request.args.get("state", ""), pending["state"]):
        return _refused("This sign-in did not start here or has expired. Try again.", 400)
    try:
        grant = google.finish(_google(), _redirect_uri(), pending["verifier"], request.args["code"])
    except (google.SigninError, KeyError) as exc:
        current_app.logger.warning("Google sign-in failed: %s", exc)
        return _refused(str(exc) if isinstance(exc, google.SigninError) else "No code.", 400)
    if not grant.identity.verified:
        return _refused("Google has not verified that email address.", 403)
    db = db_session()
    try:
        member = member_for_google(db, grant.identity.email, grant.identity.name, utcnow())
    except DomainError as exc:
        db.rollback()
        return _refused(exc.message, exc.status)
    if grant.can_use_gmail:
        box: TokenBox = current_app.extensions["inboxcrm.tokens"]
        connect_mailbox(db, member, grant.identity.email, box.seal(grant.token_json), grant.scopes)
    start_member_session(member)  # commits the member and mailbox with the new session
    if not grant.can_use_gmail:  # after the fresh cookie, so the message survives it
        flash(
            "Signed in, but Gmail is not connected: sign in again and allow Gmail access.", "error"
        )
    return redirect(_safe_next(pending.get("next")))


def _progress(boxes: list[Mailbox]) -> dict[int, SyncProgress]:
    now = utcnow()
    return {m.id: progress_of(m, now) for m in boxes}


@bp.get("/mailboxes")
@login_required
def mailboxes() -> str:
    boxes = mailboxes_of(db_session(), member())
    lag = None
    if member().role is Role.admin:  # whether the clocks keep up with the team's polls
        every = dt.timedelta(seconds=current_app.extensions["inboxcrm.settings"].poll_seconds)
        lag = poll_lag(db_session(), utcnow(), every, member().workspace_id)
    return render_template(
        "accounts/mailboxes.html", mailboxes=boxes, progress=_progress(boxes), lag=lag
    )


@bp.get("/mailboxes/status")
@login_required
def mailbox_status() -> dict[str, Any]:
    """What the Gmail page polls while it is open: each mailbox's state and status line."""
    boxes = mailboxes_of(db_session(), member())
    progress = _progress(boxes)
    return {
        "mailboxes": [
            {
                "id": m.id,
                "email": m.email,
                "status": m.status.value,
                "sync_state": m.sync_state.value,
                "synced_messages": progress[m.id].stored,
                "estimate": progress[m.id].estimate,
                "rate": progress[m.id].rate,
                "html": render_template("accounts/_sync_status.html", m=m, progress=progress),
            }
            for m in boxes
        ]
    }


@bp.post("/mailboxes/<int:mailbox_id>/disconnect")
@login_required
def disconnect(mailbox_id: int) -> Response:
    """Revoke the grant at Google and stop syncing; the mail already synced stays."""
    found = scope().get(Mailbox, mailbox_id)
    if found.member_id != member().id:
        raise Forbidden("only the mailbox's owner can disconnect it")
    if found.token_ciphertext is not None:
        box: TokenBox = current_app.extensions["inboxcrm.tokens"]
        client = google_client(current_app.extensions["inboxcrm.settings"])
        try:
            if client is not None:
                google.revoke(client, box.open(found.token_ciphertext))
        except (TokenUnreadable, requests.RequestException) as exc:
            # Forgetting the tokens is what matters; Google drops unused grants in time.
            current_app.logger.warning("revoking %s at Google failed: %s", found.email, exc)
    disconnect_mailbox(found)
    db_session().commit()
    flash(f"{found.email} is disconnected; inboxcrm no longer reads it.")
    return redirect(url_for("accounts.mailboxes"))

"""Sign-in by one-time link (until "Sign in with Google" arrives with Connect Gmail), sign-out."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.service import consume_signin, member_for_signin
from inboxcrm.web import current_member, db_session

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after sign-in is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("leads.index")


@bp.get("/signin")
def signin() -> str | Response:
    if current_member() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/signin.html")


@bp.route("/signin/<token>", methods=["GET", "POST"])
def signin_link(token: str) -> tuple[str, int] | str | Response:
    # GET only asks: mail scanners open links, and must not spend a one-time link.
    found = member_for_signin(db_session(), token, current_app.config["SECRET_KEY"])
    if found is None:
        return render_template("accounts/signin.html", expired=True), 400
    if request.method == "GET":
        return render_template("accounts/confirm.html", member=found)
    consume_signin(found)
    db_session().commit()
    session.clear()
    session.permanent = True
    session["member_id"] = found.id
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/signout")
def signout() -> Response:
    session.clear()
    return redirect(url_for("accounts.signin"))

"""The webhooks settings page: endpoints, their events and secret, the delivery log,
"send test event"."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Role
from inboxcrm.config import Settings
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError
from inboxcrm.web import db_session, login_required, member, scope
from inboxcrm.webhooks.endpoints import (
    SUBSCRIBABLE,
    create_endpoint,
    remove_endpoint,
    send_test,
    update_endpoint,
)
from inboxcrm.webhooks.log import attempts
from inboxcrm.webhooks.models import WebhookEndpoint

bp = Blueprint("webhooks", __name__)


def settings() -> Settings:
    found: Settings = current_app.extensions["inboxcrm.settings"]
    return found


@bp.route("/settings/webhooks", methods=["GET", "POST"])
@login_required
def index() -> str | Response | tuple[str, int]:
    s = scope()
    error = None
    if request.method == "POST":
        try:
            made = create_endpoint(
                s,
                member(),
                settings(),
                request.form.get("url", ""),
                request.form.getlist("events"),
                request.form.get("description", ""),
                utcnow(),
            )
            db_session().commit()
        except DomainError as exc:
            db_session().rollback()
            error = exc.message
        else:
            flash("Endpoint added. Its signing secret is on its page.")
            return redirect(url_for("webhooks.show", endpoint_id=made.id))
    endpoints = list(s.session.scalars(s.select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
    html = render_template(
        "webhooks/index.html",
        endpoints=endpoints,
        events=SUBSCRIBABLE,
        error=error,
        admin=member().role is Role.admin,
        form=request.form,
    )
    return (html, 422) if error else html


@bp.get("/settings/webhooks/<int:endpoint_id>")
@login_required
def show(endpoint_id: int) -> str:
    s = scope()
    endpoint = s.get(WebhookEndpoint, endpoint_id)
    admin = member().role is Role.admin
    return render_template(
        "webhooks/show.html",
        endpoint=endpoint,
        events=SUBSCRIBABLE,
        log=attempts(s, endpoint),
        admin=admin,
    )


@bp.post("/settings/webhooks/<int:endpoint_id>")
@login_required
def change(endpoint_id: int) -> Response:
    s = scope()
    endpoint = s.get(WebhookEndpoint, endpoint_id)
    action = request.form.get("action", "")
    try:
        if action == "test":
            send_test(s, endpoint, member(), utcnow())
            message = "A test event is on its way: it shows in the log below."
        elif action == "remove":
            remove_endpoint(s, endpoint, member())
            db_session().commit()
            flash("Endpoint removed.")
            return redirect(url_for("webhooks.index"))
        elif action in ("enable", "disable"):
            update_endpoint(endpoint, member(), settings(), enabled=action == "enable")
            message = f"Endpoint {action}d."
        else:
            update_endpoint(endpoint, member(), settings(), events=request.form.getlist("events"))
            message = "Events saved."
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(f"Nothing was changed: {exc.message}", "error")
    else:
        flash(message)
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id))

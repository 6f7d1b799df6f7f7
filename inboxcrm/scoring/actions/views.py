"""/settings/actions: the score actions and the inbound wait; admins edit, others read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.permissions import require_admin
from inboxcrm.db import utcnow
from inboxcrm.errors import Invalid
from inboxcrm.scoring.actions.settings import CHANGE_ACTIONS, load, save
from inboxcrm.stages.service import list_stages
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("actions", __name__)
FLAGS = ("move_on", "notify_hot", "notify_waiting")  # a checkbox left unticked is not sent


def _render(status: int = 200, errors: dict[str, str] | None = None) -> tuple[str, int]:
    shown: dict[str, Any] = dict(load(scope()).__dict__)
    if errors:  # what the admin typed, to fix
        shown.update({k: request.form.get(k, "") for k in request.form})
        shown.update({k: k in request.form for k in FLAGS})
    html = render_template(
        "scoring/actions.html", shown=shown, stages=list_stages(scope()), errors=errors or {}
    )
    return html, status


@bp.get("/settings/actions")
@login_required
def settings() -> tuple[str, int]:
    return _render()


@bp.post("/settings/actions")
@login_required
def save_settings() -> Response | tuple[str, int]:
    require_admin(member(), CHANGE_ACTIONS)  # a 403 page, not a form error
    values: dict[str, Any] = {k: v for k, v in request.form.items() if k != "csrf_token"}
    values.update({k: k in request.form for k in FLAGS})
    try:
        save(scope(), member(), values, utcnow())
        db_session().commit()
    except Invalid as exc:
        db_session().rollback()
        return _render(422, exc.fields)
    flash("Score actions saved.")
    return redirect(url_for("actions.settings"))

"""The scoring settings page: the rules with their points, half-lives and caps in a
sentence each, the temperature lines and the ideal customer. Admins change them, everyone
else reads them; a change rescores the workspace in the background, and the page follows
its progress (a small script polls `progress`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Role
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError
from inboxcrm.scoring.rules import WHAT, Trigger, describe
from inboxcrm.scoring.settings import (
    Progress,
    change_rule,
    parse_ideal,
    parse_rule,
    parse_thresholds,
    progress,
    remove_rule,
    replace_settings,
    scoring_of,
)
from inboxcrm.web import db_session, login_required, member

bp = Blueprint("score_settings", __name__)
NEW = "add-rule"  # the form that adds a rule; a rule's is "rule-<key>"
SAVED = "Saved. Every lead is being rescored by the new settings."


def _progress_text(p: Progress) -> str:
    return f"rescoring: {p.done:,} of {p.total:,} leads"


def _page(
    status: int = 200, failed: str = "", errors: dict[str, str] | None = None
) -> tuple[str, int]:
    """The page; after a refused change, the form `failed` shows what was typed and a
    message under each field to fix."""
    me = member()
    scoring = scoring_of(db_session(), me.workspace_id)
    going = progress(db_session(), me.workspace_id)
    html = render_template(
        "scoring/settings.html",
        scoring=scoring,
        describe=describe,
        triggers=[(t.value, WHAT[t]) for t in Trigger],
        failed=failed,
        typed=request.form if failed else {},
        errors=errors or {},
        rescoring=_progress_text(going) if going and not going.finished else None,
        new=NEW,
        admin=me.role is Role.admin,
    )
    return html, status


@bp.get("/settings/scoring")
@login_required
def settings() -> tuple[str, int]:
    return _page()


@bp.get("/settings/scoring/progress")
@login_required
def rescore_progress() -> Response:
    """The workspace rescore's progress, for the page's script."""
    going = progress(db_session(), member().workspace_id)
    busy = going is not None and not going.finished
    return jsonify(
        rescoring=busy,
        done=going.done if going else 0,
        total=going.total if going else 0,
        text=_progress_text(going) if going and busy else "",
    )


def _change(form_id: str, change: Callable[[], str]) -> Response | tuple[str, int]:
    """Run a change and commit it, flashing what it says; a refused one shows the page
    again with what was typed (a 403 and a 404 are the error pages)."""
    try:
        done = change()
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        if exc.status in (403, 404):
            raise
        return _page(exc.status, form_id, exc.fields or {"form": exc.message})
    flash(done)
    return redirect(url_for("score_settings.settings"))


def _rule_form(key: str) -> dict[str, Any]:
    values: dict[str, Any] = request.form.to_dict()
    values["enabled"] = key == "" or "enabled" in request.form
    return values


@bp.post("/settings/scoring/rules")
@login_required
def add_rule() -> Response | tuple[str, int]:
    def add() -> str:
        rule = parse_rule(_rule_form(""), "")
        added, _ = change_rule(db_session(), member(), None, rule, utcnow())
        return f"Rule “{added.rule.name}” added. Every lead is being rescored."

    return _change(NEW, add)


@bp.post("/settings/scoring/rules/<key>")
@login_required
def save_rule(key: str) -> Response | tuple[str, int]:
    def save() -> str:
        rule = parse_rule(_rule_form(key), key)
        saved, changed = change_rule(db_session(), member(), key, rule, utcnow())
        if not changed:
            return "Nothing changed."
        return f"Rule “{saved.rule.name}” saved. Every lead is being rescored."

    return _change(f"rule-{key}", save)


@bp.post("/settings/scoring/rules/<key>/delete")
@login_required
def delete_rule(key: str) -> Response | tuple[str, int]:
    def delete() -> str:
        gone = remove_rule(db_session(), member(), key, utcnow())
        return f"Rule “{gone.name}” removed. Every lead is being rescored."

    return _change(f"rule-{key}", delete)


@bp.post("/settings/scoring/temperature")
@login_required
def save_temperature() -> Response | tuple[str, int]:
    def save() -> str:
        session, me = db_session(), member()
        current = scoring_of(session, me.workspace_id)
        thresholds = parse_thresholds(request.form)
        if not replace_settings(session, me, replace(current, thresholds=thresholds), utcnow()):
            return "Nothing changed."
        return SAVED

    return _change("temperature", save)


@bp.post("/settings/scoring/ideal")
@login_required
def save_ideal() -> Response | tuple[str, int]:
    def save() -> str:
        session, me = db_session(), member()
        current = scoring_of(session, me.workspace_id)
        ideal = parse_ideal(request.form)
        if not replace_settings(session, me, replace(current, ideal=ideal), utcnow()):
            return "Nothing changed."
        return SAVED

    return _change("ideal", save)

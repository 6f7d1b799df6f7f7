"""The board, moving cards, the stage settings and the reports page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Mailbox, Member, Role
from inboxcrm.accounts.permissions import Action, may, may_at_all, require_admin
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest, DomainError, Forbidden
from inboxcrm.formatting import money
from inboxcrm.labels.mapping import labels_by_stage
from inboxcrm.leads.models import Tag, Temperature
from inboxcrm.leads.params import parse_filter
from inboxcrm.leads.service import LeadFilter
from inboxcrm.pipeline import settings as editing
from inboxcrm.pipeline.board import Column, board, column_cards, column_figures, move_card
from inboxcrm.pipeline.funnel import funnel, parse_owner, parse_period
from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("pipeline", __name__)

FILTER_KEYS = ("owner", "temperature", "tag", "q")


def _owner_default() -> str:
    """Reps open their own leads first, as on the leads table; others see the team's."""
    return "me" if member().role is Role.rep else "any"


def _filter_args(args: Mapping[str, str]) -> dict[str, str]:
    """The filters as the board's links carry them, the owner always named."""
    kept = {k: args[k] for k in FILTER_KEYS if args.get(k)}
    kept.setdefault("owner", _owner_default())
    return kept


def _filter(args: Mapping[str, str]) -> LeadFilter:
    return parse_filter(args, member(), owner_default=_owner_default())


def _choices() -> dict[str, Any]:
    s = scope()
    return {
        "members": list(
            s.session.scalars(
                s.select(Member, Member.removed_at.is_(None)).order_by(Member.name, Member.email)
            )
        ),
        "tags": list(s.session.scalars(s.select(Tag).order_by(Tag.name))),
        "temperatures": list(Temperature),
    }


def _card_context(stages: list[Stage], args: dict[str, Any]) -> dict[str, Any]:
    """What every card repeats, built once per page: a board shows hundreds of cards."""
    me = member()
    # Each option escaped once, in two halves; a stage's list has its own one selected.
    head, tail, selected = (
        Markup('<option value="{}" data-kind="{}"'),
        Markup(">{}</option>"),
        Markup(" selected"),
    )
    each = [(s.id, head.format(s.id, s.kind.value), tail.format(s.name)) for s in stages]

    def options(chosen: int) -> Markup:
        return Markup("").join(
            part for i, h, t in each for part in ((h, selected, t) if i == chosen else (h, t))
        )

    return {
        "stage_options": {s.id: options(s.id) for s in stages},
        "move_url": url_for("pipeline.move", **args),
        "leads_url": url_for("leads.index"),
        # A card gets its move form and drag handle only where its lead may be moved.
        "can_move_any": may_at_all(me, Action.move),
        "can_move": lambda owner_id: may(me, Action.move, owner_id),
    }


def _span(value: dt.timedelta | None) -> str:
    """A duration as a person reads it: minutes, hours or days."""
    if value is None:
        return "—"
    minutes = value.total_seconds() / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def _totals_text(totals: Mapping[str, Any]) -> str:
    return " · ".join(money(v, c) for c, v in sorted(totals.items())) or "—"


def _render_board(status: int = 200, error: str = "") -> tuple[str, int]:
    flt = _filter(request.args)
    columns = board(scope(), flt, utcnow())
    args = _filter_args(request.args)
    html = render_template(
        "pipeline/board.html",
        columns=columns,
        args=args,
        totals_text=_totals_text,
        error=error,
        **_card_context([c.stage for c in columns], args),
        **_choices(),
    )
    return html, status


@bp.get("/board")
@login_required
def index() -> tuple[str, int]:
    return _render_board()


@bp.get("/board/more")
@login_required
def more() -> str:
    """The next cards of one column: a fragment for the page's script, a page without it."""
    s = scope()
    try:
        stage_id = int(request.args.get("stage", ""))
        after = int(request.args["after"]) if request.args.get("after") else None
    except ValueError:
        raise BadRequest("stage and after must be whole numbers") from None
    stage = s.get(Stage, stage_id)
    cards, more_after = column_cards(s, stage, _filter(request.args), utcnow(), after=after)
    column = Column(stage=stage, cards=cards, more_after=more_after)
    fragment = request.headers.get("X-Requested-With") == "fetch"
    args = _filter_args(request.args)
    return render_template(
        "pipeline/more.html" if not fragment else "pipeline/_cards.html",
        column=column,
        args=args,
        **_card_context(list_stages(s), args),
    )


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/board/move")
@login_required
def move() -> Response | tuple[str, int] | tuple[Response, int]:
    """A card moved by drag and drop (JSON answer) or by its own form (back to the board)."""
    form = request.form
    try:
        lead_id, stage_id = int(form.get("lead_id", "")), int(form.get("stage_id", ""))
    except ValueError:
        raise BadRequest("lead_id and stage_id must be whole numbers") from None
    try:
        change = move_card(
            scope(), lead_id, stage_id, member(), utcnow(), lost_reason=form.get("lost_reason", "")
        )
        db_session().commit()
    except Forbidden:
        raise
    except DomainError as exc:
        db_session().rollback()
        if _wants_json():
            body = {"error": {"status": exc.status, "message": exc.message, "fields": exc.fields}}
            return jsonify(body), exc.status
        return _render_board(exc.status, exc.message)
    if _wants_json():
        figures = column_figures(scope(), _filter(request.args))
        columns = {
            str(stage.id): {
                "count": figures.get(stage.id, (0, {}))[0],
                "total": _totals_text(figures.get(stage.id, (0, {}))[1]),
            }
            for stage in list_stages(scope())
        }
        return jsonify(moved=change is not None, columns=columns), 200
    if change is not None and change.to_stage_id is not None:
        stage = scope().get(Stage, change.to_stage_id)
        flash(f"Moved to {stage.name}.")
    back: dict[str, Any] = _filter_args(request.args)
    return redirect(url_for("pipeline.index", **back))


# --- stage settings ---------------------------------------------------------------------


def _render_stages(status: int = 200, errors: dict[str, str] | None = None) -> tuple[str, int]:
    s = scope()
    stages = list_stages(s)
    held = column_figures(s, LeadFilter())  # from the tally: one query for every stage
    counts = {stage.id: held.get(stage.id, (0, {}))[0] for stage in stages}
    mailboxes = {box.id: box.email for box in s.session.scalars(s.select(Mailbox))}
    html = render_template(
        "pipeline/stages.html",
        stages=stages,
        counts=counts,
        gmail_labels=labels_by_stage(s.session, s.workspace_id),
        mailboxes=mailboxes,
        kinds=list(StageKind),
        errors=errors or {},
        form=request.form,
    )
    return html, status


@bp.get("/settings/stages")
@login_required
def stages() -> tuple[str, int]:
    require_admin(member(), editing.CHANGE_STAGES)
    return _render_stages()


def _change_stages(change: Callable[[], str], error_key: str) -> Response | tuple[str, int]:
    """Run a stage edit and commit it, flashing what it says it did; a refused one shows
    the page again with the reason under `error_key` (a 403 is the error page)."""
    try:
        done = change()
        db_session().commit()
    except Forbidden:
        raise
    except DomainError as exc:
        db_session().rollback()
        return _render_stages(exc.status, {error_key: exc.message})
    flash(done)
    return redirect(url_for("pipeline.stages"))


@bp.post("/settings/stages")
@login_required
def add_stage() -> Response | tuple[str, int]:
    form = request.form

    def add() -> str:
        kind = form.get("kind", "")
        if kind not in StageKind.__members__:
            raise BadRequest(f"kind must be one of {', '.join(StageKind)}")
        label = form.get("label") if form.get("label", "").strip() else None
        stage = editing.add_stage(scope(), member(), form.get("name", ""), StageKind(kind), label)
        return f"Stage {stage.name} added."

    return _change_stages(add, "add")


@bp.post("/settings/stages/<int:stage_id>")
@login_required
def edit_stage(stage_id: int) -> Response | tuple[str, int]:
    """Rename and relabel in one form; the label field left as it was changes nothing."""
    s = scope()
    stage = s.get(Stage, stage_id)
    form = request.form
    shown_label = stage.label or ""  # the form showed this; a rename may move the label along

    def edit() -> str:
        if "name" in form and form["name"].strip() != stage.name:
            editing.rename_stage(s, member(), stage, form["name"])
        if "label" in form and form["label"].strip() != shown_label:
            editing.set_label(s, member(), stage, form["label"])
        return f"Stage {stage.name} saved."

    return _change_stages(edit, str(stage_id))


@bp.post("/settings/stages/<int:stage_id>/move")
@login_required
def move_stage(stage_id: int) -> Response:
    s = scope()
    stage = s.get(Stage, stage_id)
    offset = -1 if request.form.get("direction") == "up" else 1
    editing.move_stage(s, member(), stage, offset)
    db_session().commit()
    return redirect(url_for("pipeline.stages"))


@bp.post("/settings/stages/<int:stage_id>/delete")
@login_required
def delete_stage(stage_id: int) -> Response | tuple[str, int]:
    s = scope()
    stage = s.get(Stage, stage_id)

    def delete() -> str:
        name = stage.name
        editing.delete_stage(s, member(), stage)
        return f"Stage {name} deleted."

    return _change_stages(delete, str(stage_id))


# --- reports ------------------------------------------------------------------------------


@bp.get("/reports")
@login_required
def reports() -> str | tuple[str, int]:
    """The funnel for a period; a period that cannot be read is shown again, with why."""
    common = {"totals_text": _totals_text, "span": _span, **_choices()}
    try:
        start, end = parse_period(request.args, utcnow().date())
        owner_id = parse_owner(scope(), request.args)
    except BadRequest as exc:
        typed = {k: (request.args.get(k) or "")[:40] for k in ("from", "to", "owner")}
        return render_template(
            "pipeline/reports.html", figures=None, problem=exc.message, typed=typed, **common
        ), 400
    figures = funnel(scope(), start, end, owner_id=owner_id)
    typed = {
        "from": start.date().isoformat(),
        "to": (end - dt.timedelta(days=1)).date().isoformat(),
        "owner": request.args.get("owner", ""),
    }
    return render_template("pipeline/reports.html", figures=figures, typed=typed, **common)

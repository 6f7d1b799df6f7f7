"""/api/v1/settings/actions: the score actions and the inbound wait; admins change them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.scoring.actions.settings import load, save
from inboxcrm.web import db_session, member, scope

bp = Blueprint("actions", __name__)  # under /api/v1


@bp.get("/settings/actions")
def settings() -> dict[str, Any]:
    return load(scope()).as_json()


@bp.patch("/settings/actions")
def change() -> dict[str, Any]:
    """Any of `move_on`, `move_score`, `move_from_id`, `move_to_id` (stage ids),
    `notify_hot`, `notify_waiting`, `wait_minutes`; what is left out stays."""
    saved = save(scope(), member(), json_object(), utcnow())
    db_session().commit()
    return saved.as_json()

"""The JSON API under /api/v1: bearer tokens, JSON bodies, JSON errors.

Each domain package has its own blueprint (in its `api.py`); `inboxcrm.setup` lists them
and `api_blueprint` nests them under one parent, so bearer authentication and JSON errors
apply to every route once. This package imports no domain but accounts (for tokens).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, g, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from inboxcrm.accounts.service import member_for_token
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest, DomainError
from inboxcrm.web import db_session


def error(status: int, message: str, fields: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": {"status": status, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="inboxcrm"'
    return response


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        raise BadRequest("send a JSON body with Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "missing bearer token: send Authorization: Bearer <token>")
    found = member_for_token(db_session(), token.strip(), utcnow())
    if found is None:
        return error(401, "invalid or revoked API token")
    if db_session().dirty:  # last_used_at moved (once a minute): written now
        db_session().commit()
    g.member = found
    return None


def domain_error(exc: DomainError) -> Response:
    db_session().rollback()
    return error(exc.status, exc.message, exc.fields)


def validation_error(exc: ValidationError) -> Response:
    db_session().rollback()
    fields = {
        ".".join(str(p) for p in e["loc"]) or "body": str(e["msg"]).removeprefix("Value error, ")
        for e in exc.errors()
    }
    return error(422, "the request has invalid fields", fields)


def http_error(exc: HTTPException) -> Response:
    return error(exc.code or 500, exc.description or exc.name)


def api_blueprint(children: Iterable[Blueprint]) -> Blueprint:
    """A fresh /api/v1 parent per app (a blueprint nests its children once), with the
    domains' blueprints under it."""
    parent = Blueprint("api", __name__, url_prefix="/api/v1")
    parent.before_request(authenticate)
    parent.register_error_handler(DomainError, domain_error)
    parent.register_error_handler(ValidationError, validation_error)
    parent.register_error_handler(HTTPException, http_error)
    for child in children:
        parent.register_blueprint(child)
    return parent

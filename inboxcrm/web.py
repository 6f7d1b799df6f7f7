"""Request plumbing shared by pages and the API: the request's session, the signed-in member."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session, joinedload

from inboxcrm.accounts.models import Member
from inboxcrm.db import Database
from inboxcrm.tenancy import Scope

F = TypeVar("F", bound=Callable[..., Any])


def database() -> Database:
    return cast(Database, current_app.extensions["inboxcrm.db"])


def db_session() -> Session:
    """One session per request, closed at teardown; views commit what they change."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    return cast(Session, g.db_session)


def close_db_session(_exc: BaseException | None = None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def current_member() -> Member | None:
    """The member signed in by cookie (pages) or bearer token (API), loaded once per request."""
    if "member" not in g:
        member_id = session.get("member_id")
        # With its workspace, which every page's header names: one query, not two.
        g.member = (
            db_session().get(Member, member_id, options=[joinedload(Member.workspace)])
            if member_id
            else None
        )
    return cast(Member | None, g.member)


def member() -> Member:
    found = current_member()
    if found is None:
        raise RuntimeError("no member: the view is missing @login_required")
    return found


def scope() -> Scope:
    return Scope(db_session(), member().workspace_id)


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_member() is None:
            return redirect(url_for("accounts.signin", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapped)

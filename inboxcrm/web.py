"""Request plumbing shared by pages and the API: the request's session, the signed-in member."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.sessions import end_session, resume_session, start_session
from inboxcrm.db import Database, utcnow
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


def load_member() -> None:
    """Before each request: the member whose live server-side session the cookie names.

    The cookie is trusted only to carry the session's token; the session row (sign-out,
    "sign out everywhere", idle and absolute lifetimes: accounts/sessions.py) and the member
    row (role, workspace, still a member at all) are read from the database every time. The
    last-seen time, when it moves (every few minutes), is committed here, before the view
    runs, so a view's own transaction never carries it; otherwise the view goes on in the
    same transaction and connection. The API authenticates by bearer token only
    (api.authenticate).
    """
    g.member = None
    if request.endpoint == "static" or request.path.startswith("/api/"):
        return
    token = session.get("sid")
    if not isinstance(token, str):
        return
    db = db_session()
    found = resume_session(db, token, utcnow())
    if found is None or db.dirty:  # ended, or its last-seen time moved: written now
        db.commit()
    if found is None:
        session.clear()  # ended or ran out: nothing of it is kept
        return
    g.member = found.member
    g.session_token = token


def current_member() -> Member | None:
    """The member signed in by cookie (pages) or bearer token (API), loaded once per request."""
    if "member" not in g:
        load_member()
    return cast(Member | None, g.member)


def start_member_session(found: Member) -> None:
    """Sign `found` in on this browser: a fresh server-side session and a fresh cookie (what
    the cookie held before, a CSRF token included, is dropped: no session fixation)."""
    db = db_session()
    token = start_session(db, found, utcnow())
    db.commit()
    session.clear()
    session.permanent = True
    session["sid"] = token
    g.member, g.session_token = found, token


def end_member_session() -> None:
    """Sign this browser out: its session row goes, so a copy of the cookie is worth nothing."""
    token = session.get("sid")
    if isinstance(token, str):
        end_session(db_session(), token)
        db_session().commit()
    session.clear()
    g.member = None


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


# Printable ASCII but the backslash: no space, tab, CR, LF or other control, nothing a
# browser would drop or reinterpret before it reads the URL.
_PLAIN = re.compile(r"[\x21-\x5b\x5d-\x7e]+")


def same_origin_path(target: str | None, default: str) -> str:
    """`target` if a browser would read it as a path on this site, else `default`.

    The one check for every redirect whose target came with the request (`next`): an open
    redirect after sign-in is a phishing tool. Browsers drop tabs and newlines anywhere in a
    URL, read a backslash as a slash, and a second hop may decode the path once more, so the
    test runs on the URL as the browser reads it and on its percent-decoded path: anything
    but one leading slash (`//host`, `/\\host`, `/%2F/host`, `/%09/host`), a scheme, an
    authority (with or without userinfo) or dot segments goes to `default`. Refusing
    rather than cleaning up means a bad target is ignored, never a 500 (Werkzeug refuses a
    Location with CR or LF).
    """
    if not target or len(target) > 2000 or not _PLAIN.fullmatch(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    path = parts.path
    for _ in range(4):  # %252F is %2F after one decoding, / after two
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    else:
        return default  # still more encoding: nobody sends that by accident
    if not _PLAIN.fullmatch(path) or path.startswith("//"):
        return default
    if any(segment in (".", "..") for segment in path.split("/")):
        return default
    return target

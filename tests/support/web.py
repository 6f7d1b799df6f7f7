"""Signing in through the app's own pages, as a person does: the one-time link and its
CSRF-protected form, or "Sign in with Google" against the sandbox."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests
from flask.testing import FlaskClient

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.service import signin_token
from inboxcrm.db import Database


def sign_in(client: FlaskClient, member: Member) -> FlaskClient:
    """Sign in through the real one-time link and its CSRF-protected form."""
    with client.application.app_context():
        database: Database = client.application.extensions["inboxcrm.db"]
        with database.session() as s:
            token = signin_token(s.get(Member, member.id), client.application.secret_key)  # type: ignore[arg-type]
    page = client.get(f"/signin/{token}")
    assert page.status_code == 200, page.text
    response = client.post(f"/signin/{token}", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302, response.text
    return client


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def google_signin(client: FlaskClient, email: str, **params: str) -> tuple[int, str]:
    """Click "Sign in with Google", let the sandbox approve, follow Google's redirect back."""
    start = client.get("/auth/google", query_string={"login_hint": email})
    assert start.status_code == 302
    google = requests.get(start.location, params=params, allow_redirects=False, timeout=10)
    assert google.status_code == 302, google.text
    back = urlsplit(google.headers["Location"])
    assert back.path == "/auth/google/callback"
    answer = client.get(f"{back.path}?{back.query}")
    return answer.status_code, answer.location or answer.text

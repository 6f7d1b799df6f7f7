"""Sign in with Google against the sandbox, through the real Flow and the real views."""

from __future__ import annotations

import json

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm import create_app
from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox, MailboxStatus, Member, Role, SyncState, Workspace
from inboxcrm.accounts.service import invite, signin_token
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS
from tests.factories import MemberFactory
from tests.support.sandbox import AVA, BEN, Control
from tests.support.web import csrf_token, google_signin, sign_in

pytestmark = pytest.mark.google


def add_account(sandbox: RunningSandbox, email: str, name: str) -> None:
    answer = requests.post(
        f"{sandbox.url}/_sandbox/accounts", json={"email": email, "name": name}, timeout=10
    )
    assert answer.status_code == 200


def test_the_first_person_of_a_company_creates_its_workspace(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    status, where = google_signin(client, AVA)
    assert (status, where) == (302, "/leads")
    member = session.scalars(select(Member).where(Member.email == AVA)).one()
    assert member.role is Role.admin
    assert member.name == "Ava Reed"
    workspace = session.get_one(Workspace, member.workspace_id)
    assert workspace.domain == "northwind.io"
    mailbox = session.scalars(select(Mailbox)).one()
    assert (mailbox.email, mailbox.status) == (AVA, MailboxStatus.connected)
    assert "gmail.modify" in mailbox.scopes
    # Tokens are encrypted at rest; the key opens them and they hold a refresh token.
    assert mailbox.token_ciphertext is not None
    assert b"refresh_token" not in mailbox.token_ciphertext
    tokens = json.loads(
        TokenBox(app.extensions["inboxcrm.settings"].token_key).open(mailbox.token_ciphertext)
    )
    assert tokens["refresh_token"]
    assert client.get("/leads").status_code == 200


def test_colleagues_join_as_reps_unless_joining_is_off(
    client: FlaskClient, session: Session, app: Flask, sandbox: RunningSandbox
) -> None:
    google_signin(client, AVA)
    client.post("/signout", data={"csrf_token": _csrf(client)})
    assert google_signin(app.test_client(), BEN)[0] == 302
    ben = session.scalars(select(Member).where(Member.email == BEN)).one()
    ava = session.scalars(select(Member).where(Member.email == AVA)).one()
    assert (ben.role, ben.workspace_id) == (Role.rep, ava.workspace_id)

    session.get_one(Workspace, ava.workspace_id).allow_join = False
    session.commit()
    add_account(sandbox, "cy@northwind.io", "Cy New")
    status, page = google_signin(app.test_client(), "cy@northwind.io")
    assert status == 403
    assert "invitation only" in page
    assert session.scalars(select(Member).where(Member.email == "cy@northwind.io")).first() is None


def test_an_invitation_decides_workspace_and_role(
    client: FlaskClient, session: Session, sandbox: RunningSandbox
) -> None:
    admin = MemberFactory(role=Role.admin)
    add_account(sandbox, "freelancer@gmail.com", "Free Lancer")
    invite(session, admin.workspace, "freelancer@gmail.com", Role.marketer, admin)
    session.commit()
    assert google_signin(client, "freelancer@gmail.com")[0] == 302
    joined = session.scalars(select(Member).where(Member.email == "freelancer@gmail.com")).one()
    assert (joined.workspace_id, joined.role) == (admin.workspace_id, Role.marketer)


def test_free_mail_users_get_a_workspace_of_their_own(
    client: FlaskClient, session: Session, sandbox: RunningSandbox
) -> None:
    for email in ("solo.one@gmail.com", "solo.two@gmail.com"):
        add_account(sandbox, email, email)
        assert google_signin(client.application.test_client(), email)[0] == 302
    members = session.scalars(select(Member).where(Member.email.like("solo.%"))).all()
    assert len({m.workspace_id for m in members}) == 2
    assert {m.role for m in members} == {Role.admin}


def test_a_cancelled_or_forged_callback_connects_nothing(
    client: FlaskClient, session: Session
) -> None:
    start = client.get("/auth/google", query_string={"login_hint": AVA})
    assert start.status_code == 302
    denied = client.get("/auth/google/callback?error=access_denied&state=x")
    assert denied.status_code == 400
    assert "cancelled" in denied.text
    # A callback this browser did not start (login CSRF) is refused.
    stranger = client.application.test_client()
    forged = stranger.get("/auth/google/callback?code=abc&state=made-up")
    assert forged.status_code == 400
    assert session.scalars(select(Member)).first() is None
    assert session.scalars(select(Mailbox)).first() is None


def test_without_a_google_client_the_button_explains(settings: Settings) -> None:
    client = create_app(settings).test_client()
    assert "Sign in with Google" not in client.get("/signin").text
    assert client.get("/auth/google").status_code == 503


def _csrf(client: FlaskClient) -> str:
    return csrf_token(client.get("/leads").text)


def test_disconnect_revokes_the_grant_and_keeps_the_account(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    google_signin(client, AVA)
    mailbox = session.scalars(select(Mailbox)).one()
    assert mailbox.token_ciphertext is not None
    tokens = TokenBox(app.extensions["inboxcrm.settings"].token_key).open(mailbox.token_ciphertext)
    page = client.get("/mailboxes")
    assert "Connected" in page.text
    response = client.post(
        f"/mailboxes/{mailbox.id}/disconnect", data={"csrf_token": _csrf(client)}
    )
    assert response.status_code == 302
    session.expire_all()
    assert (mailbox.status, mailbox.token_ciphertext) == (MailboxStatus.disconnected, None)
    assert "Disconnected" in client.get("/mailboxes").text
    # Google no longer honours the refresh token.
    client_settings = app.extensions["inboxcrm.settings"]
    refreshed = requests.post(
        client_settings.google_token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": json.loads(tokens)["refresh_token"],
            "client_id": client_settings.google_client_id,
            "client_secret": client_settings.google_client_secret,
        },
        timeout=10,
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


def test_only_the_owner_disconnects_and_a_refused_grant_shows_everywhere(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    google_signin(client, AVA)
    mailbox = session.scalars(select(Mailbox)).one()
    colleague = app.test_client()
    google_signin(colleague, BEN)
    refused = colleague.post(
        f"/mailboxes/{mailbox.id}/disconnect", data={"csrf_token": _csrf(colleague)}
    )
    assert refused.status_code == 403
    mailbox.status = MailboxStatus.needs_reconnect
    session.commit()
    banner = client.get("/leads").text
    assert "Gmail needs reconnecting for ava.reed@northwind.io" in banner
    assert "needs reconnecting" not in colleague.get("/leads").text


def test_another_workspaces_mailbox_is_404(client: FlaskClient, session: Session) -> None:
    google_signin(client, AVA)
    mailbox = session.scalars(select(Mailbox)).one()
    outsider = sign_in(client.application.test_client(), MemberFactory())
    answer = outsider.post(
        f"/mailboxes/{mailbox.id}/disconnect", data={"csrf_token": _csrf(outsider)}
    )
    assert answer.status_code == 404


def test_reconnecting_after_a_revoked_grant_clears_the_failure(
    client: FlaskClient,
    session: Session,
    db: Database,
    control: Control,
    google_settings: Settings,
) -> None:
    """Revoked, the sync fails and asks for reconnecting; reconnected, the page shows the
    mailbox as it was synced, not "The last sync failed: None"."""
    google_signin(client, AVA)
    mailbox = session.scalars(select(Mailbox)).one()
    runtime = Runtime(db, google_settings, workers=1)
    try:
        assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle
        control("grants/revoke", {"email": AVA})
        assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is (
            SyncState.failed
        )
    finally:
        runtime.stop()
    assert "Needs reconnecting" in client.get("/mailboxes").text

    google_signin(client, AVA)  # reconnect
    session.expire_all()
    assert (mailbox.status, mailbox.sync_state) == (MailboxStatus.connected, SyncState.idle)
    line = client.get("/mailboxes/status").get_json()["mailboxes"][0]["html"]
    assert "failed" not in line
    assert "None" not in line
    assert "up to date as of" in line


def test_a_used_link_offers_sign_in_with_google(client: FlaskClient, session: Session) -> None:
    member = MemberFactory()
    token = signin_token(member, client.application.secret_key)  # type: ignore[arg-type]
    session.commit()
    page = client.get(f"/signin/{token}")
    client.post(f"/signin/{token}", data={"csrf_token": csrf_token(page.text)})
    used = client.application.test_client().get(f"/signin/{token}")
    assert used.status_code == 400
    assert "expired or was already used. Sign in with Google instead" in used.text
    assert 'href="/auth/google' in used.text

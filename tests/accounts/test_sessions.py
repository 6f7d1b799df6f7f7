"""Sessions live on the server: every case is tried with a copy of the session cookie, as
someone who lifted it from a browser, a proxy log or a backup would use it."""

from __future__ import annotations

import datetime as dt
import hashlib

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import LoginSession, Member, Role
from inboxcrm.accounts.sessions import ABSOLUTE_LIFETIME, IDLE_LIFETIME
from inboxcrm.db import utcnow
from tests.factories import MemberFactory
from tests.support.web import csrf_token, sign_in

COOKIE = "inboxcrm_session"


def copy_of(client: FlaskClient) -> FlaskClient:
    """Another browser holding the very same cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = client.application.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/leads")
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        assert response.location.startswith("/signin")
    return response.status_code == 200


def sessions_of(session: Session, member: Member) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginSession)
            .where(LoginSession.member_id == member.id)
        )
        or 0
    )


def test_sign_out_ends_that_session_and_only_that_one(
    client: FlaskClient, session: Session
) -> None:
    member = MemberFactory()
    laptop = sign_in(client, member)
    phone = sign_in(client.application.test_client(), member)
    copied = copy_of(laptop)
    assert signed_in(copied)
    laptop.post("/signout", data={"csrf_token": csrf_token(laptop.get("/leads").text)})
    assert not signed_in(laptop)
    assert not signed_in(copied)  # the copy died with the session
    assert signed_in(phone)  # another browser of the same member stays signed in
    assert sessions_of(session, member) == 1


def test_sign_out_everywhere_ends_every_session(client: FlaskClient, session: Session) -> None:
    member = MemberFactory(name="Sam Sessions")
    other = MemberFactory(workspace=member.workspace)
    laptop = sign_in(client, member)
    phone = sign_in(client.application.test_client(), member)
    colleague = sign_in(client.application.test_client(), other)
    copied = copy_of(phone)
    page = laptop.get("/account")
    assert page.status_code == 200
    assert "Sign out everywhere" in page.text
    assert page.text.count("<li>Signed in") == 2
    assert "(this browser)" in page.text
    response = laptop.post(
        "/account/signout-everywhere", data={"csrf_token": csrf_token(page.text)}
    )
    assert (response.status_code, response.location) == (302, "/signin")
    assert "Signed out everywhere (2 sessions ended)" in laptop.get("/signin").text
    for browser in (laptop, phone, copied):
        assert not signed_in(browser)
    assert signed_in(colleague)
    assert sessions_of(session, member) == 0


def test_signing_out_everywhere_needs_the_form_token(client: FlaskClient, session: Session) -> None:
    member = MemberFactory()
    sign_in(client, member)
    assert client.post("/account/signout-everywhere").status_code == 400
    assert signed_in(client)


def test_a_removed_member_is_signed_out_on_the_next_request(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    member = MemberFactory(workspace=admin.workspace, email="leaving@team.example")
    copied = copy_of(sign_in(client, member))
    session.delete(session.get_one(Member, member.id))  # what removing a member does
    session.commit()
    assert not signed_in(copied)
    assert not signed_in(client)
    # The id may come round again (SQLite reuses the highest rowid): the old cookie never
    # becomes the session of the next person to get it.
    newcomer = MemberFactory(workspace=admin.workspace, email="newcomer@team.example")
    assert newcomer.id >= member.id
    assert not signed_in(copied)


def test_a_role_change_applies_to_the_next_request(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    copied = copy_of(sign_in(client, admin))
    assert copied.get("/settings/stages").status_code == 200
    session.get_one(Member, admin.id).role = Role.rep  # an admin demotes them
    session.commit()
    assert copied.get("/settings/stages").status_code == 403
    assert client.get("/settings/stages").status_code == 403


def _age(session: Session, member: Member, **columns: dt.datetime) -> None:
    session.expire_all()
    row = session.scalars(select(LoginSession).where(LoginSession.member_id == member.id)).one()
    for name, value in columns.items():
        setattr(row, name, value)
    session.commit()


def test_an_idle_session_runs_out(client: FlaskClient, session: Session) -> None:
    member = MemberFactory()
    copied = copy_of(sign_in(client, member))
    now = utcnow()
    _age(session, member, last_seen_at=now - IDLE_LIFETIME + dt.timedelta(minutes=5))
    assert signed_in(copied)  # still in time, and using it counts as activity
    session.expire_all()
    seen = session.scalars(select(LoginSession.last_seen_at)).one()
    assert seen > now - dt.timedelta(minutes=1)
    _age(session, member, last_seen_at=now - IDLE_LIFETIME - dt.timedelta(minutes=1))
    assert not signed_in(copied)
    assert not signed_in(client)
    assert sessions_of(session, member) == 0  # and the row is gone


def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    client: FlaskClient, session: Session
) -> None:
    member = MemberFactory()
    copied = copy_of(sign_in(client, member))
    now = utcnow()
    _age(session, member, created_at=now - ABSOLUTE_LIFETIME + dt.timedelta(minutes=5))
    assert signed_in(copied)
    _age(
        session,
        member,
        created_at=now - ABSOLUTE_LIFETIME - dt.timedelta(minutes=1),
        last_seen_at=now,
    )
    assert not signed_in(copied)
    assert sessions_of(session, member) == 0


def test_a_cookie_signed_with_our_key_but_naming_a_member_signs_nobody_in(
    client: FlaskClient, session: Session
) -> None:
    # What the cookie used to hold: forging or replaying it must not be enough.
    member = MemberFactory()
    with client.session_transaction() as cookie:
        cookie["member_id"] = member.id
        cookie["sid"] = "a-token-the-server-never-issued"
    assert not signed_in(client)


def test_only_a_hash_of_the_session_token_is_stored(client: FlaskClient, session: Session) -> None:
    sign_in(client, MemberFactory())
    with client.session_transaction() as cookie:
        token = cookie["sid"]
    stored = session.scalars(select(LoginSession.token_hash)).one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored


def test_signing_in_starts_a_fresh_session(client: FlaskClient, session: Session) -> None:
    # A cookie planted before sign-in (session fixation) is not the one signed in.
    member = MemberFactory()
    with client.session_transaction() as cookie:
        cookie["sid"] = "chosen-by-an-attacker"
    planted = copy_of(client)
    sign_in(client, member)
    with client.session_transaction() as cookie:
        assert cookie["sid"] != "chosen-by-an-attacker"
    assert signed_in(client)
    assert not signed_in(planted)

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.service import SIGNIN_MAX_AGE, signin_token
from inboxcrm.db import utcnow
from tests.factories import MemberFactory
from tests.support.web import csrf_token


def test_a_link_signs_in_once_and_a_get_does_not_spend_it(
    client: FlaskClient, session: Session
) -> None:
    member = MemberFactory(name="Rita Rep")
    token = signin_token(member, client.application.secret_key)  # type: ignore[arg-type]
    session.commit()
    for _ in range(2):  # link scanners open it; it still works for the person
        page = client.get(f"/signin/{token}")
        assert page.status_code == 200
        assert "Rita Rep" in page.text
    response = client.post(f"/signin/{token}", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert client.get("/leads").status_code == 200
    # Used once: a second use fails, even from another browser.
    other = client.application.test_client()
    assert other.get(f"/signin/{token}").status_code == 400


def test_a_tampered_or_expired_link_is_refused(client: FlaskClient, session: Session) -> None:
    member = MemberFactory()
    token = signin_token(member, client.application.secret_key)  # type: ignore[arg-type]
    session.commit()
    assert client.get(f"/signin/{token[:-2]}xx").status_code == 400
    old = utcnow() - SIGNIN_MAX_AGE - dt.timedelta(seconds=1)
    stale = signin_token(member, client.application.secret_key, issued_at=old)  # type: ignore[arg-type]
    session.commit()
    response = client.get(f"/signin/{stale}")
    assert response.status_code == 400
    assert "expired" in response.text


def test_sign_out_ends_the_session(client: FlaskClient, session: Session) -> None:
    member = MemberFactory()
    token = signin_token(member, client.application.secret_key)  # type: ignore[arg-type]
    session.commit()
    page = client.get(f"/signin/{token}")
    client.post(f"/signin/{token}", data={"csrf_token": csrf_token(page.text)})
    leads = client.get("/leads")
    client.post("/signout", data={"csrf_token": csrf_token(leads.text)})
    assert client.get("/leads").status_code == 302


def test_sign_in_never_redirects_off_site(client: FlaskClient, session: Session) -> None:
    member = MemberFactory()
    token = signin_token(member, client.application.secret_key)  # type: ignore[arg-type]
    session.commit()
    page = client.get(f"/signin/{token}")
    response = client.post(
        f"/signin/{token}?next=//evil.example/x", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.location == "/leads"

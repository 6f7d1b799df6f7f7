"""Open redirects: every `next` a request brings goes through one check, on the URL as a
browser reads it. Real-world payloads, as they appear on the wire, through each route."""

from __future__ import annotations

import itertools
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm import create_app
from inboxcrm.config import Settings
from inboxcrm.web import same_origin_path
from tests import factories
from tests.factories import LeadFactory, MemberFactory
from tests.support.web import csrf_token, sign_in

EVIL = "127.0.0.1:5069"
# Written as they travel after `next=`: percent-encoded where a browser would encode.
PAYLOADS = [
    f"//{EVIL}/owned",
    f"/%09/{EVIL}/owned",  # the report: Werkzeug drops the tab, the browser sees //host
    f"/%0A/{EVIL}/owned",
    f"/%0D/{EVIL}/owned",
    f"/%09%0A/{EVIL}/owned",
    f"%09//{EVIL}/owned",
    f"%20//{EVIL}/owned",
    f"/%20/{EVIL}/owned",
    f"///{EVIL}/owned",
    f"////{EVIL}/owned",
    f"/\\{EVIL}/owned",
    f"/%5C{EVIL}/owned",
    f"/%5c/{EVIL}/owned",
    f"\\\\{EVIL}/owned",
    f"%5C%5C{EVIL}/owned",
    f"/%2F{EVIL}/owned",
    f"/%2f%2f{EVIL}/owned",
    f"%2F%2F{EVIL}/owned",
    f"/%252F%252F{EVIL}/owned",  # decoded twice on the way
    f"/%25252F{EVIL}/owned",
    f"/%2525252F{EVIL}/owned",
    f"http://{EVIL}/owned",
    f"HtTpS://{EVIL}/owned",
    f"https:{EVIL}/owned",
    f"http:/{EVIL}/owned",
    f"http:\\\\{EVIL}/owned",
    f"%68ttp://{EVIL}/owned",
    "javascript:alert(document.domain)",
    "JaVaScRiPt%3Aalert(1)",
    "java%0Ascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    f"//attacker@{EVIL}/owned",
    f"//{EVIL}%2F@127.0.0.1:5000/owned",
    f"/%2e%2e//{EVIL}/owned",
    f"/../..//{EVIL}/owned",
    f"/./%2F{EVIL}/owned",
    "/x%0D%0ASet-Cookie:%20owned=1",  # used to be an HTTP 500
    "/x%0ALocation:%20http://127.0.0.1:5069/",
    f"/%E3%80%82/{EVIL}",  # ideographic full stop
    f"/%EF%BC%8F{EVIL}/owned",  # fullwidth solidus
    f"%E2%80%AE//{EVIL}",  # right-to-left override
    f"/%00/{EVIL}/owned",
    "owned",
    "",
]
SAFE = ["/leads", "/board?owner=me&temperature=hot", "/leads?q=ann%40acme.com&page=2", "/reports#x"]
HOME = "/leads"
_addresses = (f"10.9.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def client_from_own_address(app: Flask) -> FlaskClient:
    """Each payload from its own address, so the sign-in rate limit stays out of the way."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = next(_addresses)
    return client


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_check_refuses_every_payload(payload: str) -> None:
    from urllib.parse import parse_qs

    value = parse_qs(f"next={payload}", keep_blank_values=True).get("next", [""])[0]
    assert same_origin_path(value, HOME) == HOME
    assert same_origin_path(payload, HOME) == HOME


def test_signed_in_signin_page_sends_payloads_home(client: FlaskClient, session: Session) -> None:
    sign_in(client, MemberFactory())
    for payload in PAYLOADS:
        response = client.get(f"/signin?next={payload}")
        assert (response.status_code, response.location) == (302, HOME), payload
    for target in SAFE:
        response = client.get(f"/signin?{urlencode({'next': target})}")
        assert response.location == target


def test_a_sign_in_link_sends_payloads_home(app: Flask, session: Session) -> None:
    from inboxcrm.accounts.service import signin_token

    member = MemberFactory()
    for payload in [*PAYLOADS[:12], "/x%0D%0ASet-Cookie:%20owned=1"]:
        token = signin_token(member, app.secret_key)  # type: ignore[arg-type]
        session.commit()
        client = client_from_own_address(app)
        page = client.get(f"/signin/{token}?next={payload}")
        response = client.post(
            f"/signin/{token}?next={payload}", data={"csrf_token": csrf_token(page.text)}
        )
        assert (response.status_code, response.location) == (302, HOME), payload
        session.refresh(member)


def _google_round_trip(client: FlaskClient, query: str) -> tuple[int, str | None]:
    start = client.get(f"/auth/google?login_hint=ava.reed%40northwind.io&{query}")
    assert start.status_code == 302, start.text
    google = requests.get(start.location, allow_redirects=False, timeout=10)
    back = urlsplit(google.headers["Location"])
    answer = client.get(f"{back.path}?{back.query}")
    return answer.status_code, answer.location


def test_google_sign_in_lands_at_home_for_every_payload(
    google_settings: Settings, session: Session
) -> None:
    app = create_app(google_settings)
    for payload in PAYLOADS:
        status, where = _google_round_trip(client_from_own_address(app), f"next={payload}")
        assert (status, where) == (302, HOME), payload
    for target in SAFE:
        status, where = _google_round_trip(
            client_from_own_address(app), urlencode({"next": target})
        )
        assert (status, where) == (302, target)


def test_form_redirects_send_payloads_home(client: FlaskClient, session: Session) -> None:
    member = MemberFactory()
    box = factories.MailboxFactory(member=member)
    thread = factories.ThreadFactory(mailbox=box)
    lead = LeadFactory(owner=member)
    sign_in(client, member)
    token = csrf_token(client.get("/leads").text)
    from urllib.parse import unquote

    for payload in PAYLOADS:
        value = unquote(payload)  # a form field arrives decoded
        private = client.post(
            f"/threads/{thread.id}/private",
            data={"csrf_token": token, "private": "0", "next": value},
        )
        assert (private.status_code, private.location) == (302, HOME), payload
        bulk = client.post(
            "/leads/bulk",
            data={"csrf_token": token, "lead_ids": [str(lead.id)], "add_tag": "x", "next": value},
        )
        assert (bulk.status_code, bulk.location) == (302, HOME), payload
    back = f"/leads/{lead.id}"
    private = client.post(
        f"/threads/{thread.id}/private", data={"csrf_token": token, "private": "0", "next": back}
    )
    assert private.location == back

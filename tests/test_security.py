"""Security headers, cookie flags, request size limits and rate limits, reviewed once:
every registered page is walked, every limit is hit."""

from __future__ import annotations

import datetime as dt
import io
import json
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm import create_app
from inboxcrm.accounts.models import Member, Role
from inboxcrm.accounts.service import signin_token
from inboxcrm.campaigns.service import Draft, create_campaign
from inboxcrm.campaigns.templates import create_template
from inboxcrm.config import RATELIMIT_SCHEMES, ConfigError, Settings, load_settings
from inboxcrm.exchange.imports import upload
from inboxcrm.notifications.models import NoticeKind, Notification
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.ratelimits import API, API_REFUSED, SIGNIN
from inboxcrm.segments.service import create_segment
from inboxcrm.sequences.service import create_sequence, enroll
from inboxcrm.stages.models import Stage
from inboxcrm.tenancy import Scope
from inboxcrm.webhooks.endpoints import create_endpoint
from tests import factories
from tests.factories import LeadFactory, MemberFactory
from tests.support.web import csrf_token, sign_in

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
MB = 1024 * 1024


def per_minute(limit: str) -> int:
    return int(limit.split(";")[0].split()[0])


def assert_protected(response_headers: dict[str, str] | object, where: str) -> None:
    headers = response_headers
    csp = headers["Content-Security-Policy"]  # type: ignore[index]
    assert "default-src" in csp, where
    assert "frame-ancestors" in csp, where
    assert "base-uri 'none'" in csp or "sandbox" in csp, where
    assert headers["X-Content-Type-Options"] == "nosniff", where  # type: ignore[index]
    assert headers["Referrer-Policy"] in ("same-origin", "no-referrer"), where  # type: ignore[index]


def test_every_page_carries_the_security_headers(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin, name="Ada Admin")
    lead = LeadFactory(owner=admin, company="Acme Rockets", email="zoe@acme-rockets.example")
    box = factories.MailboxFactory(member=admin)
    thread = factories.ThreadFactory(mailbox=box, subject="Rockets", leads=[lead])
    message = factories.MessageFactory(thread=thread, at=T0, html="<p>Hello <b>there</b></p>")
    message.attachments = [{"filename": "q3.pdf", "attachment_id": "att-1", "size": 10}]
    stage = session.scalars(select(Stage).where(Stage.workspace_id == admin.workspace_id)).first()
    assert stage is not None
    assert lead.company_id is not None
    notify(
        session,
        admin.workspace_id,
        [Notice(lead.id, NoticeKind.hot, "{lead} turned hot", "hot")],
        T0,
    )
    notice = session.scalars(select(Notification)).unique().one()
    scope = Scope(session, admin.workspace_id)
    segment = create_segment(scope, admin, "Everyone", {"and": []})
    template = create_template(scope, admin, "Intro", "Hi", "Hello {{ lead.name }}", T0)
    sequence = create_sequence(scope, admin, "Drip", [
        {"kind": "email", "template_id": template.id}], T0)  # fmt: skip
    (enrollment_id,) = enroll(scope, sequence, [lead.id], T0, by="test").enrolled
    imported = upload(scope, admin, "a.csv", b"Email\na@b.example\n", T0)
    settings = client.application.extensions["inboxcrm.settings"]
    endpoint = create_endpoint(
        scope, admin, settings, "http://127.0.0.1:9/h", ["lead.created"], "", T0
    )
    draft = Draft(name="Spring", template_id=template.id, segment_id=segment.id)
    campaign = create_campaign(scope, admin, draft, T0)
    session.commit()
    sign_in(client, admin)
    link = signin_token(session.get_one(Member, admin.id), client.application.secret_key)  # type: ignore[arg-type]
    session.commit()
    values = {
        "lead_id": lead.id,
        "company_id": lead.company_id,
        "message_id": message.id,
        "notice_id": notice.id,
        "member_id": admin.id,
        "index": 0,
        "import_id": imported.id,
        "endpoint_id": endpoint.id,
        "token": link,
        "filename": "app.css",
        "segment_id": segment.id,
        "template_id": template.id,
        "sequence_id": sequence.id,
        "enrollment_id": enrollment_id,
        "campaign_id": campaign.id,
    }
    queries = {"pipeline.more": f"?stage={stage.id}"}
    app = client.application
    pages, ok = [], []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith("/api/"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", str(values[name]))
            path = path.replace(f"<path:{name}>", str(values[name]))
            path = path.replace(f"<{name}>", str(values[name]))
        response = client.get(path + queries.get(rule.endpoint, ""))
        # Google's start answers 503 without a Google client, a callback nobody started 400:
        # error pages are pages too.
        assert response.status_code in (200, 302, 400, 503), (rule.endpoint, response.status_code)
        if response.status_code == 200:
            ok.append(rule.endpoint)
        assert_protected(response.headers, rule.endpoint)
        if response.mimetype == "text/html":
            pages.append(rule.endpoint)
            if rule.endpoint != "mail.body":  # an email body may be framed by its lead page
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
                assert response.headers["X-Frame-Options"] == "DENY"
        if rule.endpoint != "static":
            assert "no-store" in response.headers["Cache-Control"], rule.endpoint
        response.close()  # a streamed export ends its generator here, not at collection
    # The walk really rendered the app's pages, as the admin sees them.
    for endpoint in ("leads.index", "leads.show", "companies.show", "pipeline.stages"):
        assert endpoint in pages
        assert endpoint in ok
    assert "accounts.account" in pages
    assert "mail.body" in pages


def test_api_answers_carry_the_headers_too(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    token = factories.api_token(admin)
    for path in ("/api/v1/leads", "/api/v1/stages", "/api/v1/nothing-here"):
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.mimetype == "application/json"
        assert_protected(response.headers, path)
    assert_protected(client.get("/no-such-page").headers, "404")


def test_https_gives_secure_cookies_and_hsts(settings: Settings, session: Session) -> None:
    app = create_app(settings.with_overrides(base_url="https://crm.example"))
    client = app.test_client()
    member = MemberFactory()
    token = signin_token(member, app.secret_key)  # type: ignore[arg-type]
    session.commit()
    base = "https://crm.example"
    page = client.get(f"/signin/{token}", base_url=base)
    response = client.post(
        f"/signin/{token}",
        data={"csrf_token": csrf_token(page.text)},
        base_url=base,
        headers={"Referer": f"{base}/signin/{token}"},  # Flask-WTF checks it under https
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert client.get("/leads", base_url=base).status_code == 200
    # And without https, no HSTS promise to break.
    plain = create_app(settings).test_client().get("/signin")
    assert "Strict-Transport-Security" not in plain.headers


def test_too_large_forms_and_bodies_answer_413(client: FlaskClient, session: Session) -> None:
    member = MemberFactory(role=Role.admin)
    api = factories.api_token(member)
    sign_in(client, member)
    token = csrf_token(client.get("/leads/new").text)
    big = "x" * (3 * MB)
    form = client.post("/leads/new", data={"csrf_token": token, "email": "a@b.example", "x": big})
    assert form.status_code == 413
    assert form.mimetype == "text/html"
    assert "at most 2 MB" in form.text
    # One text field bigger than the form parser keeps in memory, the whole form under 2 MB.
    field = client.post(
        "/leads/new",
        data={"csrf_token": token, "notes": "y" * (MB // 2 + 1)},
        content_type="multipart/form-data",
    )
    assert field.status_code == 413
    upload = client.post(
        "/leads/new",
        data={"csrf_token": token, "file": (io.BytesIO(b"z" * 3 * MB), "big.bin")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 413
    body = json.dumps({"email": "big@b.example", "name": big})
    answer = client.post(
        "/api/v1/leads",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api}"},
    )
    assert answer.status_code == 413
    assert answer.json == {
        "error": {
            "status": 413,
            "message": "The request is too large: this server takes at most 2 MB.",
        }
    }
    # Nothing was made of any of it, and the app still answers.
    assert client.get("/leads").status_code == 200
    assert (
        client.get("/api/v1/leads", headers={"Authorization": f"Bearer {api}"}).json["total"] == 0
    )


def test_sign_in_links_are_rate_limited_per_address(app: Flask, session: Session) -> None:
    member = MemberFactory()
    token = signin_token(member, app.secret_key)  # type: ignore[arg-type]
    session.commit()
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "10.1.1.1"
    for _ in range(per_minute(SIGNIN)):
        assert guesser.get(f"/signin/{token}x").status_code == 400  # a wrong link
    limited = guesser.get(f"/signin/{token}")
    assert limited.status_code == 429
    assert "Too many sign-in attempts" in limited.text
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.mimetype == "text/html"
    # POSTs count in the same budget: the good link does not get through either.
    assert guesser.post(f"/signin/{token}").status_code == 429
    # Another address is not held up by this one.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.2.2.2"
    assert other.get(f"/signin/{token}").status_code == 200


def test_google_sign_in_is_rate_limited(google_settings: Settings, session: Session) -> None:
    app = create_app(google_settings)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.3.3.3"
    hits = 0
    while hits < per_minute(SIGNIN) - 1:  # each round trip is two requests: start, callback
        start = client.get("/auth/google?login_hint=ava.reed%40northwind.io")
        assert start.status_code == 302
        google = requests.get(start.location, allow_redirects=False, timeout=10)
        back = urlsplit(google.headers["Location"])
        assert client.get(f"{back.path}?{back.query}").status_code == 302
        hits += 2
    if hits < per_minute(SIGNIN):
        assert client.get("/auth/google").status_code == 302
    assert client.get("/auth/google").status_code == 429
    assert client.get("/auth/google/callback?code=x&state=y").status_code == 429


def test_bad_api_tokens_are_rate_limited_and_good_ones_keep_working(
    client: FlaskClient, session: Session
) -> None:
    member = MemberFactory()
    good = factories.api_token(member)
    client.environ_base["REMOTE_ADDR"] = "10.4.4.4"
    for n in range(per_minute(API_REFUSED)):
        path = ("/api/v1/leads", "/api/v1/stages", "/api/v1/blocklist")[n % 3]  # any route
        assert (
            client.get(path, headers={"Authorization": f"Bearer icrm_guess{n}"}).status_code == 401
        )
    for guess in ("Bearer icrm_one-more", None):
        headers = {"Authorization": guess} if guess else {}
        limited = client.get("/api/v1/leads", headers=headers)
        assert limited.status_code == 429
        assert limited.mimetype == "application/json"
        assert limited.json["error"]["status"] == 429
        assert "invalid API token" in limited.json["error"]["message"]
        assert int(limited.headers["Retry-After"]) > 0
    # A legitimate integration elsewhere never counted towards it.
    elsewhere = client.application.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.5.5.5"
    assert (
        elsewhere.get("/api/v1/leads", headers={"Authorization": f"Bearer {good}"}).status_code
        == 200
    )


def test_every_api_call_counts_towards_the_address_limit(
    client: FlaskClient, session: Session
) -> None:
    good = factories.api_token(MemberFactory())
    headers = {"Authorization": f"Bearer {good}"}
    client.environ_base["REMOTE_ADDR"] = "10.6.6.6"
    for _ in range(per_minute(API)):
        assert client.get("/api/v1/stages", headers=headers).status_code == 200
    limited = client.get("/api/v1/leads", headers=headers)
    assert limited.status_code == 429
    assert "Too many API requests" in limited.json["error"]["message"]


def test_forwarded_addresses_count_only_behind_trusted_proxies(
    settings: Settings, session: Session
) -> None:
    member = MemberFactory()
    token = signin_token(member, "x" * 40)
    session.commit()
    spoofing = create_app(settings).test_client()
    spoofing.environ_base["REMOTE_ADDR"] = "10.7.7.7"
    for n in range(per_minute(SIGNIN)):  # a new X-Forwarded-For each time changes nothing
        spoofing.get(f"/signin/{token}", headers={"X-Forwarded-For": f"192.0.2.{n}"})
    assert (
        spoofing.get(f"/signin/{token}", headers={"X-Forwarded-For": "192.0.2.99"}).status_code
        == 429
    )

    proxied = create_app(settings.with_overrides(trusted_proxies=1)).test_client()
    proxied.environ_base["REMOTE_ADDR"] = "10.8.8.8"  # the load balancer
    for _ in range(per_minute(SIGNIN)):
        proxied.get(f"/signin/{token}", headers={"X-Forwarded-For": "198.51.100.1"})
    assert (
        proxied.get(f"/signin/{token}", headers={"X-Forwarded-For": "198.51.100.1"}).status_code
        == 429
    )
    assert (
        proxied.get(f"/signin/{token}", headers={"X-Forwarded-For": "198.51.100.2"}).status_code
        == 400
    )


def test_rate_limit_storage_and_proxies_are_settings() -> None:
    assert load_settings({}).ratelimit_storage_uri == "memory://"
    found = load_settings(
        {
            "INBOXCRM_RATELIMIT_STORAGE_URI": "redis://:pw@cache:6379/0",
            "INBOXCRM_TRUSTED_PROXIES": "1",
        }
    )
    assert (found.ratelimit_storage_uri, found.trusted_proxies) == ("redis://:pw@cache:6379/0", 1)
    assert "pw@cache" not in repr(found)
    for bad in (
        {"INBOXCRM_RATELIMIT_STORAGE_URI": "cache:6379"},
        {"INBOXCRM_TRUSTED_PROXIES": "-1"},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load_settings(bad)
    from limits._storage_scheme import SCHEMES  # every scheme we accept is one limits knows

    assert set(SCHEMES) >= RATELIMIT_SCHEMES


def test_a_redis_store_is_accepted_for_several_web_processes(settings: Settings) -> None:
    app = create_app(settings.with_overrides(ratelimit_storage_uri="redis://127.0.0.1:9/0"))
    limiter = app.extensions["inboxcrm.limiter"]
    assert type(limiter.storage).__name__ == "RedisStorage"  # built, connected on first use

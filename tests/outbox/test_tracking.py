"""Tracking as real mail clients, proxies and scanners hit it: links rewritten to signed
redirects that go only where the message pointed, the pixel always answered, each hit
classified with its reason, and only a person's open and click feeding the lead's score."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm import create_app
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.outbox.hits import HitWriter
from inboxcrm.outbox.jobs import classify_hits
from inboxcrm.outbox.models import HitKind, TrackingHit, Verdict
from inboxcrm.outbox.tracking import Hit, Tracked, classify, track
from inboxcrm.scoring.jobs import rescore_queued
from tests import factories
from tests.factories import LeadFactory
from tests.support.web import sign_in

BASE = "http://127.0.0.1:5000"
SENT = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
HTML = (
    '<html><body><p>Hi Nina, <a href="https://vandelay.example/offer?a=1&amp;b=2">the offer</a>'
    " and <a href='https://docs.example/pdf'>the PDF</a>.</p>"
    '<a href="http://127.0.0.1:5000/u/TOKEN">Unsubscribe</a></body></html>'
)


@pytest.fixture
def proxied(settings: Settings) -> Iterator[Flask]:
    """The app behind one proxy it trusts: the client's address from X-Forwarded-For."""
    app = create_app(settings.with_overrides(trusted_proxies=1))
    yield app
    app.extensions["inboxcrm.db"].dispose()


@pytest.fixture
def tclient(proxied: Flask) -> FlaskClient:
    return proxied.test_client()


@pytest.fixture
def tsession(proxied: Flask) -> Iterator[Session]:
    database: Database = proxied.extensions["inboxcrm.db"]
    with database.sessions() as s:
        factories.bind(s)
        yield s
        factories.bind(None)


def links(html: str) -> list[str]:
    return re.findall(r'href=["\']([^"\']+)["\']', html)


def test_track_rewrites_the_links_keeps_the_unsubscribe_and_adds_pixel_and_hidden_link() -> None:
    sent = Tracked(1, 2, "send-1", SENT)
    tracked = track(HTML, BASE, "s" * 40, sent)
    found = links(tracked)
    assert [u.split("/t/")[1][:2] for u in found[:2]] == ["c/", "c/"]
    assert f"{BASE}/u/TOKEN" in found
    assert any("/t/h/" in u for u in found)
    assert re.search(r'<img src="http://127\.0\.0\.1:5000/t/o/[^"]+\.gif"', tracked)
    assert tracked.index("/t/o/") < tracked.index("</body>")
    # The token carries the link's real URL (entities decoded).
    token = found[0].rsplit("/", 1)[1]
    assert Tracked.read("s" * 40, HitKind.click, token).url == (  # type: ignore[union-attr]
        "https://vandelay.example/offer?a=1&b=2"
    )


def test_a_click_goes_to_the_url_in_the_message_and_nowhere_else(
    proxied: Flask, tclient: FlaskClient, tsession: Session
) -> None:
    lead = LeadFactory()
    sent = Tracked(lead.workspace_id, lead.id, "send-1", SENT)
    tracked = track(HTML, BASE, proxied.secret_key, sent)  # type: ignore[arg-type]
    first = links(tracked)[0].removeprefix(BASE)
    answer = tclient.get(first, headers={"User-Agent": CHROME})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://vandelay.example/offer?a=1&b=2"
    # No open redirect: a URL of one's own choosing is not signed, a parameter is ignored,
    # and a token altered to point elsewhere is refused.
    assert tclient.get(first + "?url=https://evil.example/").headers["Location"] == (
        "https://vandelay.example/offer?a=1&b=2"
    )
    other = Tracked(lead.workspace_id, lead.id, "send-1", SENT, "https://evil.example/")
    forged = other.token("not-the-secret-" + "z" * 32, HitKind.click)
    for path in (f"/t/c/{forged}", first[:-3] + "xyz", "/t/c/https%3A%2F%2Fevil.example%2F"):
        refused = tclient.get(path)
        assert refused.status_code in (400, 404), path
        assert "Location" not in refused.headers
    # An open token is no click token either.
    pixel_token = sent.token(proxied.secret_key, HitKind.open)  # type: ignore[arg-type]
    assert tclient.get(f"/t/c/{pixel_token}").status_code == 400


def test_the_pixel_is_always_the_image(proxied: Flask, tclient: FlaskClient) -> None:
    sent = Tracked(1, 1, "send-1", SENT)
    good = sent.token(proxied.secret_key, HitKind.open)  # type: ignore[arg-type]
    for path in (f"/t/o/{good}.gif", "/t/o/garbage.gif"):
        for answer in (tclient.get(path), tclient.head(path)):
            assert answer.status_code == 200
            assert answer.mimetype == "image/gif"
            assert "no-store" in answer.headers["Cache-Control"]
    assert tclient.get(f"/t/o/{good}.gif").data.startswith(b"GIF89a")


def hit(kind: HitKind = HitKind.open, method: str = "GET", agent: str = CHROME,
        ip: str = "203.0.113.7", after: float = 3600) -> Hit:  # fmt: skip
    return Hit(kind, method, agent, ip, SENT + dt.timedelta(seconds=after), SENT)


@pytest.mark.parametrize(
    ("shape", "verdict"),
    [
        (hit(), Verdict.person),
        (hit(HitKind.click, agent=IPHONE, ip="198.51.100.4", after=7200), Verdict.person),
        (hit(agent=GMAIL_PROXY, ip="66.249.84.10", after=1800), Verdict.gmail_proxy),
        (hit(agent=GMAIL_PROXY, ip="66.102.8.3", after=4), Verdict.gmail_prefetch),
        (hit(agent="", ip="74.125.210.9", after=20), Verdict.gmail_prefetch),
        (hit(agent="Mozilla/5.0", ip="17.58.100.1", after=30), Verdict.apple_mpp),
        (hit(agent="Mozilla/5.0", ip="172.225.30.4", after=40000), Verdict.apple_mpp),
        (hit(agent=IPHONE, ip="17.120.4.5", after=600), Verdict.apple_mpp),
        (hit(HitKind.click, method="HEAD", after=2), Verdict.scanner),
        (hit(HitKind.click, ip="40.94.31.2", after=900), Verdict.scanner),  # Safe Links
        (hit(HitKind.click, agent="python-requests/2.32.3", after=900), Verdict.scanner),
        (hit(HitKind.click, after=3), Verdict.scanner),  # a GET seconds after delivery
        (hit(HitKind.trap, after=86400), Verdict.scanner),
    ],
)
def test_each_hit_is_classified_with_its_reason(shape: Hit, verdict: Verdict) -> None:
    found, reason = classify(shape, counted_before=False)
    assert found is verdict, reason
    assert reason


def test_a_second_open_by_the_person_is_a_repeat() -> None:
    assert classify(hit(), counted_before=True)[0] is Verdict.repeat
    # A machine's hit is the machine's, counted before or not.
    assert classify(hit(agent="Mozilla/5.0"), counted_before=True)[0] is Verdict.apple_mpp


def test_a_person_open_and_click_feed_the_score_and_machines_are_counted_apart(
    proxied: Flask, tclient: FlaskClient, tsession: Session
) -> None:
    lead = LeadFactory(email="nina@vandelay.example")
    now = dt.datetime.now(dt.UTC)
    sent = Tracked(lead.workspace_id, lead.id, "send-9", now - dt.timedelta(hours=2))
    secret: str = proxied.secret_key  # type: ignore[assignment]
    pixel = f"/t/o/{sent.token(secret, HitKind.open)}.gif"
    link = links(track(HTML, BASE, secret, sent))[0].removeprefix(BASE)
    trap = f"/t/h/{sent.token(secret, HitKind.trap)}"
    # Apple's prefetch and Gmail's proxy, as they arrive: through the proxy the app trusts.
    tclient.get(pixel, headers={"User-Agent": "Mozilla/5.0", "X-Forwarded-For": "17.58.1.2"})
    tclient.get(pixel, headers={"User-Agent": GMAIL_PROXY, "X-Forwarded-For": "66.249.84.1"})
    tclient.head(link, headers={"User-Agent": CHROME, "X-Forwarded-For": "40.94.3.1"})
    tclient.get(trap, headers={"User-Agent": CHROME, "X-Forwarded-For": "40.94.3.1"})
    # Nina, twice.
    for _ in range(2):
        tclient.get(pixel, headers={"User-Agent": CHROME, "X-Forwarded-For": "203.0.113.9"})
    tclient.get(link, headers={"User-Agent": CHROME, "X-Forwarded-For": "203.0.113.9"})
    database: Database = proxied.extensions["inboxcrm.db"]
    now = dt.datetime.now(dt.UTC)  # the clock's tick, after the hits
    assert classify_hits(database, now) == 7
    tsession.expire_all()
    hits = tsession.scalars(select(TrackingHit).order_by(TrackingHit.id)).all()
    assert [h.ip for h in hits][:2] == ["17.58.1.2", "66.249.84.1"]
    assert [h.verdict for h in hits] == [
        Verdict.apple_mpp, Verdict.gmail_proxy, Verdict.scanner, Verdict.scanner,
        Verdict.person, Verdict.repeat, Verdict.person,
    ]  # fmt: skip
    activities = tsession.scalars(select(Activity).where(Activity.lead_id == lead.id)).all()
    kinds = sorted(a.kind for a in activities if a.kind in (ActivityKind.open, ActivityKind.click))
    assert kinds == [ActivityKind.click, ActivityKind.open]
    assert classify_hits(database, now) == 0  # nothing twice
    # The lead's rescore was queued, and the rescore counts the open and the click.
    before = tsession.get_one(Lead, lead.id).score
    assert rescore_queued(database, now) >= 1
    tsession.expire_all()
    assert tsession.get_one(Lead, lead.id).score == before + 1 + 3
    # The lead page tells the person's from the machines'.
    owner = lead.owner
    page = sign_in(tclient, owner).get(f"/leads/{lead.id}")
    assert "1 open and 1 click by the person" in page.text
    assert "2 opens and 2 clicks by machines not counted" in page.text


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    sent = Tracked(1, 1, "send-1", SENT)
    pixel = f"/t/o/{sent.token(app.secret_key, HitKind.open)}.gif"  # type: ignore[arg-type]
    client.get(pixel, headers={"X-Forwarded-For": "17.58.1.2"})
    [row] = session.scalars(select(TrackingHit)).all()
    assert row.ip == "127.0.0.1"


def test_the_pixel_answers_while_the_database_is_locked_and_the_hit_is_kept(
    app: Flask, client: FlaskClient, session: Session, db: Database
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL inserts wait on no other writer")
    sent = Tracked(1, 1, "send-1", SENT)
    pixel = f"/t/o/{sent.token(app.secret_key, HitKind.open)}.gif"  # type: ignore[arg-type]
    lock = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # a long writer holds the database
    try:
        answer = client.get(pixel)
        assert answer.status_code == 200
        assert answer.mimetype == "image/gif"
        assert lock.execute("SELECT count(*) FROM tracking_hit").fetchone() == (0,)  # not yet
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    writer: HitWriter = app.extensions["inboxcrm.hits"]
    writer.flush()  # what its thread does a second later
    [row] = session.scalars(select(TrackingHit)).all()
    assert (row.kind, row.send_ref) == (HitKind.open, "send-1")

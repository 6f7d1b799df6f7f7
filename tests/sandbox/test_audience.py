"""The simulated audience: scanners, Apple's prefetch, Gmail's image proxy and people fetch
what a sent message links to, after their delays on the sandbox clock, and the log says so."""

import ipaddress
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.support.endpoints import Endpoints
from tests.support.mail import b64
from tests.support.sandbox import AVA, Control, audience, audience_log, run_due

LEAD = "nina.berg@vandelay.com"


def _campaign(urls: str, to: str = LEAD, one_click: bool = True) -> bytes:
    """A campaign email as the outbox writes one: pixel, links, a hidden link, a footer."""
    html = (
        "<html><body><p>Hi Nina,</p>"
        f'<p><a href="{urls}/c/pricing">See the pricing</a></p>'
        f'<p><img src="{urls}/o/logo.png" alt="Northwind"></p>'
        f'<div style="display: none"><a href="{urls}/c/trap">.</a></div>'
        f'<p><a href="https://example.com/blog">Our blog</a></p>'
        f'<p style="font-size:12px"><a href="{urls}/u/tok1">Unsubscribe</a></p>'
        f'<img src="{urls}/o/pixel.gif" width="1" height="1" alt="">'
        "</body></html>"
    )
    head = (
        f"From: {AVA}\r\nTo: {to}\r\nSubject: Pricing\r\nMIME-Version: 1.0\r\n"
        f"List-Unsubscribe: <mailto:u+tok1@northwind.io>, <{urls}/u/tok1>\r\n"
        + ("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" if one_click else "")
        + 'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
    )
    body = (
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Nina\r\n"
        f"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b1--\r\n"
    )
    return (head + body).encode()


def _send(gmail: Callable[..., Any], raw: bytes) -> None:
    gmail(AVA).users().messages().send(userId="me", body={"raw": b64(raw)}).execute()


def _in(address: str, network: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(network)


@pytest.fixture
def lead(control: Control) -> str:
    control("contacts", {"emails": [LEAD]})
    return LEAD


def test_a_security_scanner_heads_then_gets_every_link_seconds_after_delivery(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["scanner"]})
    _send(gmail, _campaign(endpoints.url))
    assert run_due(control, advance=1) == []
    done = run_due(control, advance=1)
    paths = ["/c/pricing", "/c/trap", "/u/tok1"]
    assert [(h.method, h.path) for h in endpoints.hits] == [
        (m, p) for p in paths for m in ("HEAD", "GET")
    ]
    for hit in endpoints.hits:
        assert "Edg/" in hit.headers["User-Agent"]
        assert _in(hit.headers["X-Forwarded-For"], "40.107.0.0/16")
        assert "Cookie" not in hit.headers
    fetched = [d for d in done if d["status"] is not None]
    assert {d["due"] - d["sent_at"] for d in done} == {2.0}
    assert [d["status"] for d in fetched] == [302, 302, 302, 302, 200, 200]
    blog = [d for d in done if d["url"] == "https://example.com/blog"]
    assert [d["method"] for d in blog] == ["HEAD", "GET"]
    assert all(d["status"] is None and "loopback" in d["note"] for d in blog)


def test_apple_privacy_protection_prefetches_every_image_soon_after_delivery(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["mpp"]})
    _send(gmail, _campaign(endpoints.url))
    done = run_due(control, advance=20)
    assert [h.path for h in endpoints.hits] == ["/o/logo.png", "/o/pixel.gif"]
    assert {h.headers["User-Agent"] for h in endpoints.hits} == {"Mozilla/5.0"}
    assert all(_in(h.headers["X-Forwarded-For"], "17.0.0.0/8") for h in endpoints.hits)
    assert [d["status"] for d in done] == [200, 200]


def test_gmails_image_proxy_fetches_the_first_image_when_the_lead_opens(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["image_proxy"]}, delays={"image_proxy": 900})
    _send(gmail, _campaign(endpoints.url))
    assert run_due(control, advance=899) == []
    run_due(control, advance=1)
    [hit] = endpoints.hits
    assert (hit.method, hit.path) == ("GET", "/o/logo.png")
    assert "GoogleImageProxy" in hit.headers["User-Agent"]
    assert _in(hit.headers["X-Forwarded-For"], "66.249.80.0/20")
    assert "Date" in hit.headers


def test_a_person_opens_then_clicks_a_visible_link_later(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["person_open", "click"]})
    _send(gmail, _campaign(endpoints.url))
    assert run_due(control, advance=3599) == []
    run_due(control, advance=1)
    assert [h.path for h in endpoints.hits] == ["/o/logo.png", "/o/pixel.gif"]
    [click] = run_due(control, advance=60)
    assert (click["what"], click["method"], click["url"]) == (
        "click", "GET", f"{endpoints.url}/c/pricing",
    )  # fmt: skip
    assert click["status"] == 302  # the redirect is recorded, not followed
    assert "example.com/pricing" in click["note"]
    browsers = {h.headers["User-Agent"] for h in endpoints.hits}
    assert len(browsers) == 1
    assert "Chrome/" in browsers.pop()
    assert not any(_in(h.headers["X-Forwarded-For"], n) for h in endpoints.hits for n in (
        "40.107.0.0/16", "17.0.0.0/8", "66.249.80.0/20"))  # fmt: skip


def test_one_click_unsubscribe_posts_to_the_list_unsubscribe_url(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["unsubscribe"]}, delays={"unsubscribe": 30})
    _send(gmail, _campaign(endpoints.url))
    [done] = run_due(control, advance=30)
    [hit] = endpoints.hits
    assert (hit.method, hit.path, hit.body) == ("POST", "/u/tok1", b"List-Unsubscribe=One-Click")
    assert hit.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Cookie" not in hit.headers
    assert (done["what"], done["status"]) == ("unsubscribe", 200)


def test_no_one_click_post_without_list_unsubscribe_post(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["unsubscribe"]})
    _send(gmail, _campaign(endpoints.url, one_click=False))
    [done] = run_due(control, advance=86400)
    assert endpoints.hits == []
    assert done["status"] is None
    assert "List-Unsubscribe-Post" in done["note"]


def test_a_reply_from_the_audience_lands_in_the_thread(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["reply"]})
    _send(gmail, _campaign(endpoints.url))
    [done] = run_due(control, advance=86400)
    assert done["what"] == "reply"
    ava = gmail(AVA).users()
    thread = ava.threads().get(userId="me", id=ava.messages().list(userId="me").execute()[
        "messages"][0]["threadId"]).execute()  # fmt: skip
    assert len(thread["messages"]) == 2
    assert "INBOX" in thread["messages"][-1]["labelIds"]


def _opened_by_rate(gmail: Callable[..., Any], control: Control, urls: str) -> set[str]:
    leads = [f"lead{n}@acme-robotics.com" for n in range(100)]
    control("contacts", {"emails": leads})
    audience(control, rates={"image_proxy": 0.3, "scanner": 0.1}, seed="s1")
    for to in leads:
        _send(gmail, _campaign(urls, to))
    run_due(control, advance=86400)
    return {e["recipient"] for e in audience_log(control) if e["what"] == "image_proxy"}


def test_audience_rates_pick_the_same_recipients_every_run(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints
) -> None:
    first = _opened_by_rate(gmail, control, endpoints.url)
    control("reset", {"seed": "empty"})
    again = _opened_by_rate(gmail, control, endpoints.url)
    assert first == again
    assert 18 <= len(first) <= 42  # about 30 % of 100
    log = audience_log(control)
    assert all(e["status"] in (200, 302) for e in log if e["url"].startswith(endpoints.url))
    assert [e["due"] for e in log] == sorted(e["due"] for e in log)


def test_nothing_happens_to_mail_between_the_sandboxs_accounts(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints
) -> None:
    audience(control, rates={"mpp": 1.0, "scanner": 1.0})
    _send(gmail, _campaign(endpoints.url, to="ben.okafor@northwind.io"))
    assert run_due(control, advance=86400) == []
    assert control("audience", method="GET")["pending"] == []


def test_the_log_and_pending_actions_are_readable(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str
) -> None:
    audience(control, people={lead: ["mpp", "person_open"]})
    _send(gmail, _campaign(endpoints.url))
    run_due(control, advance=20)
    state = control("audience", method="GET")
    assert [p["what"] for p in state["pending"]] == ["person_open"]
    assert [(e["what"], e["url"].rsplit("/", 1)[-1]) for e in state["log"]] == [
        ("mpp", "logo.png"), ("mpp", "pixel.gif"),
    ]  # fmt: skip
    assert {"at", "due", "sent_at", "user_agent", "source", "status", "message"} <= set(
        state["log"][0]
    )


@pytest.mark.slow
def test_the_demo_runner_acts_without_being_asked(
    gmail: Callable[..., Any], control: Control, endpoints: Endpoints, lead: str, sandbox: Any
) -> None:
    audience(control, people={lead: ["mpp"]}, delays={"mpp": 0})
    sandbox.sandbox.outside.start(interval=0.02)
    try:
        _send(gmail, _campaign(endpoints.url))
        for _ in range(250):
            if len(endpoints.hits) == 2:
                break
            threading.Event().wait(0.02)
    finally:
        sandbox.sandbox.outside.stop()
    assert [h.path for h in endpoints.hits] == ["/o/logo.png", "/o/pixel.gif"]


@pytest.mark.parametrize(
    "body",
    [
        {"rates": {"open": 0.5}},
        {"rates": {"mpp": 2}},
        {"rates": {"mpp": "often"}},
        {"delays": {"mpp": -1}},
        {"people": {LEAD: ["dance"]}},
        {"rates": ["mpp"]},
        {"people": {LEAD: 3}},
    ],
)
def test_bad_audience_settings_are_refused(control: Control, body: dict[str, Any]) -> None:
    answer = requests.post(f"{control.url}/_sandbox/audience", json=body, timeout=5)
    assert answer.status_code == 400
    assert control("audience", method="GET")["rates"] == {}

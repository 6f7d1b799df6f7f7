"""Outside recipients that bounce, auto-reply and reply, after a delay on the sandbox clock."""

import base64
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import pytest
import requests

from tests.support.mail import b64, eml
from tests.support.sandbox import AVA, Control, recipient, run_due
from tests.support.sandbox import audience as set_audience

LEAD = "nina.berg@vandelay.com"
FAILURES = ("unknown", "domain", "moved", "full", "full_temp", "deferred", "too_large", "blocked")
DELAYED = ("full_temp", "deferred")


def _send(gmail: Callable[..., Any], to: str = LEAD, subject: str = "Proposal") -> dict[str, Any]:
    raw = eml(AVA, to, subject, "Hi Nina, here is the proposal.")
    return dict(gmail(AVA).users().messages().send(userId="me", body={"raw": b64(raw)}).execute())


def _inbox(gmail: Callable[..., Any]) -> list[Message]:
    """Ava's inbox as raw messages, parsed by the standard library."""
    messages = gmail(AVA).users().messages()
    listed = messages.list(userId="me", q="in:inbox").execute().get("messages", [])
    out = []
    for ref in listed:
        got = messages.get(userId="me", id=ref["id"], format="raw").execute()
        data = base64.urlsafe_b64decode(got["raw"])
        msg = message_from_bytes(data, policy=policy.default)
        msg["X-Test-Thread"] = got["threadId"]
        out.append(msg)
    return out


def _status_fields(report: Message) -> tuple[Message, Message]:
    """The RFC 3464 per-message and first per-recipient field groups of a report."""
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    parts = report.get_payload()
    assert isinstance(parts, list)
    status = next(p for p in parts if p.get_content_type() == "message/delivery-status")
    groups = status.get_payload()
    assert isinstance(groups, list)
    assert len(groups) >= 2
    return groups[0], groups[1]


@pytest.mark.parametrize("mta", ["gmail", "microsoft", "postfix"])
@pytest.mark.parametrize("failure", FAILURES)
def test_a_bounce_arrives_as_an_rfc_3464_report_after_its_delay(
    gmail: Callable[..., Any], control: Control, failure: str, mta: str
) -> None:
    recipient(control, LEAD, failure, mta=mta, delay=60)
    sent = _send(gmail)
    assert run_due(control) == []
    assert _inbox(gmail) == []
    done = run_due(control, advance=61)
    assert [(d["what"], d["recipient"]) for d in done] == [(failure, LEAD)]
    [report] = _inbox(gmail)
    per_message, per_recipient = _status_fields(report)
    assert per_message["Reporting-MTA"].startswith("dns")
    assert per_recipient["Final-Recipient"].replace(" ", "") == f"rfc822;{LEAD}"
    assert per_recipient["Action"] == ("delayed" if failure in DELAYED else "failed")
    assert per_recipient["Status"][0] == ("4" if failure in DELAYED else "5")
    assert per_recipient["Diagnostic-Code"]
    assert report["Auto-Submitted"] == "auto-replied"
    original_id = control("sent", method="GET")["sent"][0]["messageId"]
    assert original_id.encode() in report.as_bytes()
    if mta == "gmail":
        assert report["X-Test-Thread"] == sent["threadId"]
        assert report["In-Reply-To"] == original_id
    bounced = control("sent", method="GET")["sent"][0]["bounced"]
    assert bounced == ([] if failure in DELAYED else [LEAD])


def test_report_shapes_differ_by_mail_system(gmail: Callable[..., Any], control: Control) -> None:
    for n, mta in enumerate(("gmail", "microsoft", "postfix")):
        recipient(control, f"gone{n}@vandelay.com", "unknown", mta=mta)
        _send(gmail, f"gone{n}@vandelay.com")
    run_due(control, advance=60)
    senders = {str(m["From"]).split("<")[-1].split("@")[0].lower() for m in _inbox(gmail)}
    subjects = sorted(str(m["Subject"]) for m in _inbox(gmail))
    assert subjects == [
        "Delivery Status Notification (Failure)",
        "Undeliverable: Proposal",
        "Undelivered Mail Returned to Sender",
    ]
    assert {"mailer-daemon", "postmaster"} <= senders


@pytest.mark.parametrize(
    ("language", "prefix", "date"),
    [
        ("en", "Out of Office: ", "December"),
        ("de", "Abwesenheitsnotiz: ", "."),
        ("fr", "Réponse automatique : ", "/"),
        ("es", "Fuera de la oficina: ", "/"),
        ("nl", "Afwezig: ", "-"),
    ],
)
def test_out_of_office_replies_in_its_language_with_a_return_date(
    gmail: Callable[..., Any], control: Control, language: str, prefix: str, date: str
) -> None:
    control("clock", {"now": 1_764_000_000})  # Monday 24 Nov 2025: back on 1 Dec
    recipient(control, LEAD, "out_of_office", language=language, away_days=7)
    _send(gmail)
    run_due(control, advance=60)
    [reply] = _inbox(gmail)
    assert reply["Auto-Submitted"] == "auto-replied"
    assert str(reply["Subject"]) == prefix + "Proposal"
    original_id = control("sent", method="GET")["sent"][0]["messageId"]
    assert reply["In-Reply-To"] == original_id
    text = reply.get_payload(decode=True)
    assert isinstance(text, bytes)
    body = text.decode()
    assert "2025" in body
    assert date in body
    assert "01" in body or "1," in body or " 1" in body


def test_exchange_automatic_reply_sets_no_auto_submitted(
    gmail: Callable[..., Any], control: Control
) -> None:
    recipient(control, LEAD, "automatic_reply")
    _send(gmail)
    run_due(control, advance=60)
    [reply] = _inbox(gmail)
    assert str(reply["Subject"]) == "Automatic reply: Proposal"
    assert reply["Auto-Submitted"] is None
    assert reply["X-Auto-Response-Suppress"] == "All"


@pytest.mark.parametrize(
    ("behaviour", "words"), [("reply", "Tuesday"), ("unsubscribe_reply", "remove me")]
)
def test_the_lead_replies_in_the_thread(
    gmail: Callable[..., Any], control: Control, behaviour: str, words: str
) -> None:
    recipient(control, LEAD, behaviour, delay=600)
    sent = _send(gmail)
    assert run_due(control, advance=599) == []
    run_due(control, advance=1)
    [reply] = _inbox(gmail)
    original_id = control("sent", method="GET")["sent"][0]["messageId"]
    assert reply["X-Test-Thread"] == sent["threadId"]
    assert reply["In-Reply-To"] == original_id
    assert original_id in str(reply["References"])
    assert str(reply["Subject"]) == "Re: Proposal"
    assert str(reply["From"]) == LEAD
    text = reply.get_payload(decode=True)
    assert isinstance(text, bytes)
    assert words in text.decode()


def _bounced_by_rate(gmail: Callable[..., Any], control: Control, seed: str) -> set[str]:
    leads = [f"lead{n}@acme-robotics.com" for n in range(150)]
    control("contacts", {"emails": leads})
    control("recipients", {"rates": {"unknown": 0.3}, "seed": seed})
    for lead in leads:
        _send(gmail, lead)
    run_due(control, advance=60)
    return {a for r in control("sent", method="GET")["sent"] for a in r["bounced"]}


def test_a_rate_picks_the_same_recipients_every_run(
    gmail: Callable[..., Any], control: Control
) -> None:
    first = _bounced_by_rate(gmail, control, "s1")
    control("reset", {"seed": "empty"})
    again = _bounced_by_rate(gmail, control, "s1")
    control("reset", {"seed": "empty"})
    other = _bounced_by_rate(gmail, control, "s2")
    assert first == again
    assert 30 <= len(first) <= 60  # about 30 % of 150
    assert other != first


def test_a_bouncing_recipient_has_no_audience(gmail: Callable[..., Any], control: Control) -> None:
    recipient(control, LEAD, "unknown")
    set_audience(control, people={LEAD: ["scanner", "mpp", "reply"]})
    _send(gmail)
    done = run_due(control, advance=86400)
    assert [d["what"] for d in done] == ["unknown"]


def test_plain_outside_addresses_still_bounce_at_once(
    gmail: Callable[..., Any], control: Control
) -> None:
    _send(gmail, "nobody@acme-robotics.com")
    assert control("sent", method="GET")["sent"][0]["bounced"] == ["nobody@acme-robotics.com"]


@pytest.mark.parametrize(
    "body",
    [
        {"address": LEAD, "behaviour": "vanish"},
        {"address": LEAD, "behaviour": "unknown", "mta": "sendmail"},
        {"address": LEAD, "behaviour": "out_of_office", "language": "xx"},
        {"address": LEAD, "behaviour": "reply", "delay": -5},
        {"address": LEAD, "behaviour": "reply", "colour": "red"},
        {"address": LEAD, "behaviour": "out_of_office", "away_days": "soon"},
        {"address": LEAD, "behaviour": "out_of_office", "away_days": 9999},
        {"address": LEAD},
        {"rates": {"unknown": 1.5}},
        {"rates": {"unknown": 0.6, "full": 0.6}},
        {"rates": {"vanish": 0.1}},
        {"rates": {"unknown": "many"}},
        {"rates": ["unknown"]},
    ],
)
def test_bad_recipient_settings_are_refused(control: Control, body: dict[str, Any]) -> None:
    answer = requests.post(f"{control.url}/_sandbox/recipients", json=body, timeout=5)
    assert answer.status_code == 400
    assert control("recipients", method="GET")["people"] == {}

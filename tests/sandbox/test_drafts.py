"""Gmail's drafts with real semantics, and the send faults that matter: a call applied whose
answer is lost, the sending limit, a Message-ID Gmail rewrites."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError

from tests.support.sandbox import AVA, BEN, Control


def _raw(
    to: str = BEN, subject: str = "Proposal", msgid: str = "<p1@northwind.io>"
) -> dict[str, str]:
    eml = (
        f"From: {AVA}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
        "X-InboxCRM-Send: tok1\r\n\r\nHello\r\n"
    )
    return {"raw": base64.urlsafe_b64encode(eml.encode()).decode()}


def _sent(control: Control) -> list[dict[str, Any]]:
    return list(control("sent", method="GET")["sent"])


def test_a_draft_is_created_listed_read_and_sent_once(
    gmail: Callable[..., Any], control: Control
) -> None:
    drafts = gmail(AVA).users().drafts()
    draft = drafts.create(userId="me", body={"message": _raw()}).execute()
    assert draft["id"]
    assert draft["message"]["id"]
    assert _sent(control) == []  # a draft delivers nothing
    listed = drafts.list(userId="me", q="rfc822msgid:p1@northwind.io").execute()
    assert [d["id"] for d in listed["drafts"]] == [draft["id"]]
    assert drafts.list(userId="me", q="rfc822msgid:other@x").execute().get("drafts") is None
    got = drafts.get(userId="me", id=draft["id"], format="metadata").execute()
    headers = {h["name"]: h["value"] for h in got["message"]["payload"]["headers"]}
    assert headers["X-InboxCRM-Send"] == "tok1"
    sent = drafts.send(userId="me", body={"id": draft["id"]}).execute()
    assert "SENT" in sent["labelIds"]
    assert [s["recipients"] for s in _sent(control)] == [[BEN]]
    with pytest.raises(HttpError) as again:  # a sent draft is gone: no second send
        drafts.send(userId="me", body={"id": draft["id"]}).execute()
    assert again.value.resp.status == 404
    assert len(_sent(control)) == 1
    assert drafts.list(userId="me").execute().get("drafts") is None


def test_a_deleted_draft_cannot_be_sent(gmail: Callable[..., Any], control: Control) -> None:
    drafts = gmail(AVA).users().drafts()
    draft = drafts.create(userId="me", body={"message": _raw()}).execute()
    drafts.delete(userId="me", id=draft["id"]).execute()
    with pytest.raises(HttpError) as gone:
        drafts.send(userId="me", body={"id": draft["id"]}).execute()
    assert gone.value.resp.status == 404
    assert _sent(control) == []


@pytest.mark.parametrize("body", [{}, {"id": ""}, {"id": 5}])
def test_drafts_send_without_an_id_is_a_bad_request(
    gmail: Callable[..., Any], body: dict[str, Any]
) -> None:
    with pytest.raises(HttpError) as bad:
        gmail(AVA).users().drafts().send(userId="me", body=body).execute()
    assert bad.value.resp.status == 400


def test_a_draft_needs_a_message(gmail: Callable[..., Any]) -> None:
    with pytest.raises(HttpError) as bad:
        gmail(AVA).users().drafts().create(userId="me", body={"message": {}}).execute()
    assert bad.value.resp.status == 400


def test_a_500_after_delivery_means_it_was_sent(
    gmail: Callable[..., Any], control: Control
) -> None:
    control("faults", {"kind": "error", "status": 500, "after": True, "operation": "messages.send"})
    with pytest.raises(HttpError) as lost:
        gmail(AVA).users().messages().send(userId="me", body=_raw()).execute(num_retries=0)
    assert lost.value.resp.status == 500
    assert len(_sent(control)) == 1  # applied, then the answer lost


def test_a_dropped_connection_after_delivery_and_the_clients_own_resend(
    gmail: Callable[..., Any], control: Control
) -> None:
    """httplib2 sends a request again by itself once when the connection drops before the
    answer (BadStatusLine on the first try), even a POST: messages.send then delivers twice,
    which is why the outbox sends drafts."""
    control("faults", {"kind": "drop", "after": True, "operation": "messages.send"})
    gmail(AVA).users().messages().send(userId="me", body=_raw()).execute(num_retries=0)
    assert len(_sent(control)) == 2
    control("faults", {"kind": "drop", "after": True, "operation": "messages.send", "count": 2})
    with pytest.raises((httplib2.HttpLib2Error, OSError, ConnectionError)):
        gmail(AVA).users().messages().send(userId="me", body=_raw()).execute(num_retries=0)
    assert len(_sent(control)) == 4


def test_gmail_may_rewrite_the_message_id_and_keep_the_other_headers(
    gmail: Callable[..., Any], control: Control
) -> None:
    control("options", {"rewrite_message_id": True})
    users = gmail(AVA).users()
    sent = users.messages().send(userId="me", body=_raw()).execute()
    (record,) = _sent(control)
    assert record["messageId"] != "<p1@northwind.io>"
    assert (
        not users.messages()
        .list(userId="me", q="rfc822msgid:p1@northwind.io")
        .execute()
        .get("messages")
    )
    got = users.messages().get(userId="me", id=sent["id"], format="metadata").execute()
    names = [h["name"].lower() for h in got["payload"]["headers"]]
    assert names.count("message-id") == 1
    assert "x-inboxcrm-send" in names


@pytest.mark.parametrize("status", [429, 403])
def test_past_the_sending_limit_gmail_accepts_then_refuses_with_a_retry_time(
    gmail: Callable[..., Any], control: Control, status: int
) -> None:
    control("options", {"daily_send_limit": 1, "send_limit_delay": 60, "send_limit_status": status})
    drafts = gmail(AVA).users().drafts()
    for _ in range(2):  # the first goes; the second is accepted and bounces (the delay)
        draft = drafts.create(userId="me", body={"message": _raw()}).execute()
        drafts.send(userId="me", body={"id": draft["id"]}).execute()
    assert [bool(s["bounced"]) for s in _sent(control)] == [False, True]
    control("clock", {"advance": 61})
    draft = drafts.create(userId="me", body={"message": _raw()}).execute()
    with pytest.raises(HttpError) as refused:
        drafts.send(userId="me", body={"id": draft["id"]}).execute()
    assert refused.value.resp.status == status
    assert b"Retry after" in refused.value.content
    assert b"(Mail sending)" in refused.value.content
    assert b"rateLimitExceeded" in refused.value.content
    listed = drafts.list(userId="me").execute()["drafts"]
    assert [d["id"] for d in listed] == [draft["id"]]  # a refused send keeps its draft

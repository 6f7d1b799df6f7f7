"""Gmail API v1 (labels, messages, threads) through the real client library."""

import base64
from collections.abc import Callable
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from tests.support.mail import b64, eml
from tests.support.sandbox import AVA, BEN, Control

Gmail = Callable[..., Any]


def _error(call: Any) -> tuple[int, str]:
    with pytest.raises(HttpError) as caught:
        call.execute()
    return caught.value.resp.status, caught.value.error_details[0]["reason"]


def test_profile_and_system_labels(gmail: Gmail) -> None:
    users = gmail(AVA).users()
    profile = users.getProfile(userId="me").execute()
    assert profile["emailAddress"] == AVA
    assert int(profile["historyId"]) > 0
    labels = {lb["id"]: lb for lb in users.labels().list(userId="me").execute()["labels"]}
    assert {"INBOX", "SENT", "UNREAD", "TRASH", "SPAM"} <= labels.keys()
    assert labels["INBOX"]["type"] == "system"


def test_label_lifecycle_and_conflicts(gmail: Gmail) -> None:
    labels = gmail(AVA).users().labels()
    created = labels.create(userId="me", body={"name": "CRM/SQL"}).execute()
    assert created["id"].startswith("Label_")
    assert created["type"] == "user"
    assert _error(labels.create(userId="me", body={"name": "crm/sql"})) == (409, "aborted")
    assert _error(labels.create(userId="me", body={"name": ""})) == (400, "invalidArgument")
    assert _error(labels.create(userId="me", body={"name": "Inbox"})) == (400, "invalidArgument")
    patched = labels.patch(userId="me", id=created["id"], body={"name": "CRM/SQO"}).execute()
    assert patched["name"] == "CRM/SQO"
    detail = labels.get(userId="me", id=created["id"]).execute()
    assert detail["messagesTotal"] == 0
    assert _error(labels.delete(userId="me", id="INBOX"))[0] == 400
    labels.delete(userId="me", id=created["id"]).execute()
    assert _error(labels.get(userId="me", id=created["id"])) == (404, "notFound")


def test_send_delivers_to_another_account_and_threads_replies(gmail: Gmail) -> None:
    ava, ben = gmail(AVA).users(), gmail(BEN).users()
    first = eml(
        AVA, BEN, "Pricing", "Here are our prices.", html="<p>Here are <b>our</b> prices.</p>"
    )
    sent = ava.messages().send(userId="me", body={"raw": b64(first)}).execute()
    assert sent["labelIds"] == ["SENT"]
    inbox = ben.messages().list(userId="me", labelIds=["INBOX"]).execute()
    assert inbox["resultSizeEstimate"] == 1
    got = ben.messages().get(userId="me", id=inbox["messages"][0]["id"]).execute()
    assert set(got["labelIds"]) >= {"INBOX", "UNREAD"}
    assert got["snippet"] == "Here are our prices."
    assert got["payload"]["mimeType"] == "multipart/alternative"
    html_part = got["payload"]["parts"][1]
    assert html_part["partId"] == "1"
    assert b"<b>our</b>" in base64.urlsafe_b64decode(html_part["body"]["data"])
    assert int(got["internalDate"]) > 0
    assert got["sizeEstimate"] > 0
    parent_id = next(h["value"] for h in got["payload"]["headers"] if h["name"] == "Message-ID")
    reply = eml(BEN, AVA, "Re: Pricing", "Thanks!", reply_to_id=parent_id)
    answer = (
        ben.messages()
        .send(userId="me", body={"raw": b64(reply, padded=False), "threadId": got["threadId"]})
        .execute()
    )
    assert answer["threadId"] == got["threadId"]
    thread = ava.threads().get(userId="me", id=sent["threadId"]).execute()
    assert [m["snippet"] for m in thread["messages"]] == ["Here are our prices.", "Thanks!"]
    unrelated = eml(BEN, AVA, "Other topic", "x", reply_to_id=parent_id)
    other = (
        ben.messages()
        .send(userId="me", body={"raw": b64(unrelated), "threadId": got["threadId"]})
        .execute()
    )
    assert other["threadId"] != got["threadId"]


def test_formats_and_attachments(gmail: Gmail, control: Control) -> None:
    raw = eml("lead@acme.example", AVA, "Quote", "See attached", attachment=b"%PDF-1.4 quote")
    delivered = control("deliver", {"to": AVA, "eml": raw.decode()})
    messages = gmail(AVA).users().messages()
    full = messages.get(userId="me", id=delivered["id"]).execute()
    part = full["payload"]["parts"][1]
    assert part["filename"] == "q.pdf"
    assert "data" not in part["body"]
    attachment = (
        messages.attachments()
        .get(userId="me", messageId=delivered["id"], id=part["body"]["attachmentId"])
        .execute()
    )
    assert base64.urlsafe_b64decode(attachment["data"]) == b"%PDF-1.4 quote"
    meta = messages.get(
        userId="me", id=delivered["id"], format="metadata", metadataHeaders=["Subject"]
    ).execute()
    assert meta["payload"]["headers"] == [{"name": "Subject", "value": "Quote"}]
    minimal = messages.get(userId="me", id=delivered["id"], format="minimal").execute()
    assert "payload" not in minimal
    assert minimal["threadId"] == delivered["threadId"]
    raw_format = messages.get(userId="me", id=delivered["id"], format="raw").execute()
    assert base64.urlsafe_b64decode(raw_format["raw"]) == raw


def test_insert_import_modify_trash(gmail: Gmail) -> None:
    users = gmail(AVA).users()
    label = users.labels().create(userId="me", body={"name": "Leads"}).execute()
    imported = users.messages().import_(
        userId="me",
        body={"raw": b64(eml("x@corp.example", AVA, "Old", date=1_600_000_000)),
              "labelIds": ["INBOX"]},
    ).execute()  # fmt: skip
    got = users.messages().get(userId="me", id=imported["id"], format="minimal").execute()
    assert got["internalDate"] == "1600000000000"
    inserted = (
        users.messages()
        .insert(
            userId="me",
            body={},
            media_body=MediaInMemoryUpload(eml("y@corp.example", AVA, "Up"), "message/rfc822"),
        )
        .execute()
    )
    modified = (
        users.messages()
        .modify(userId="me", id=inserted["id"], body={"addLabelIds": [label["id"], "UNREAD"]})
        .execute()
    )
    assert set(modified["labelIds"]) == {label["id"], "UNREAD"}
    users.messages().batchModify(
        userId="me", body={"ids": [imported["id"], inserted["id"]], "removeLabelIds": ["UNREAD"]}
    ).execute()
    assert _error(
        users.messages().modify(userId="me", id=inserted["id"], body={"addLabelIds": ["Label_99"]})
    ) == (400, "invalidArgument")
    trashed = users.messages().trash(userId="me", id=imported["id"]).execute()
    assert "TRASH" in trashed["labelIds"]
    assert "INBOX" not in trashed["labelIds"]
    listed = users.messages().list(userId="me").execute()
    assert [m["id"] for m in listed["messages"]] == [inserted["id"]]
    thread = (
        users.threads()
        .modify(userId="me", id=inserted["threadId"], body={"removeLabelIds": [label["id"]]})
        .execute()
    )
    assert thread["messages"][0]["labelIds"] == []


def test_pagination(gmail: Gmail, control: Control) -> None:
    for i in range(7):
        control("deliver", {"to": AVA, "eml": eml("a@b.example", AVA, f"n{i}").decode()})
    messages = gmail(AVA).users().messages()
    seen, token = [], None
    while True:
        page = messages.list(userId="me", maxResults=3, pageToken=token).execute()
        seen += [m["id"] for m in page["messages"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert len(set(seen)) == 7
    assert _error(messages.list(userId="me", pageToken="garbage!"))[0] == 400
    threads = gmail(AVA).users().threads().list(userId="me", maxResults=5).execute()
    assert len(threads["threads"]) == 5
    assert threads["threads"][0]["snippet"] == "Hello"


def test_bad_input_gets_googles_400s(gmail: Gmail) -> None:
    messages = gmail(AVA).users().messages()
    assert _error(messages.send(userId="me", body={})) == (400, "invalidArgument")
    assert _error(messages.send(userId="me", body={"raw": "!!!*"}))[0] == 400
    no_to = b64(b"Subject: x\r\n\r\nbody")
    assert _error(messages.send(userId="me", body={"raw": no_to}))[0] == 400
    bad_to = b64(b"To: not an address\r\nSubject: x\r\n\r\nbody")
    assert _error(messages.send(userId="me", body={"raw": bad_to}))[0] == 400
    assert _error(messages.get(userId="me", id="0123456789abcdef")) == (404, "notFound")
    assert _error(messages.get(userId="me", id="zzz"))[0] == 400
    assert _error(messages.list(userId="me", labelIds=["Nope"]))[0] == 400
    assert _error(gmail(AVA).users().getProfile(userId=BEN))[0] == 403

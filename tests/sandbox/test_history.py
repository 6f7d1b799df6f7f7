"""history.list: increasing non-contiguous ids, filters, paging, expiry."""

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.mail import eml
from tests.support.sandbox import AVA, Control


def _deliver(control: Control, subject: str) -> str:
    return str(
        control("deliver", {"to": AVA, "eml": eml("x@y.example", AVA, subject).decode()})["id"]
    )


def test_history_since_profile_id(gmail: Callable[..., Any], control: Control) -> None:
    users = gmail(AVA).users()
    start = users.getProfile(userId="me").execute()["historyId"]
    first = _deliver(control, "one")
    users.messages().modify(userId="me", id=first, body={"removeLabelIds": ["UNREAD"]}).execute()
    second = _deliver(control, "two")
    answer = users.history().list(userId="me", startHistoryId=start).execute()
    ids = [int(h["id"]) for h in answer["history"]]
    assert ids == sorted(ids)
    assert all(b - a > 1 for a, b in itertools.pairwise(ids))
    assert int(answer["historyId"]) == ids[-1] > int(start)
    kinds = [next(k for k in h if k not in ("id", "messages")) for h in answer["history"]]
    assert kinds == ["messagesAdded", "labelsRemoved", "messagesAdded"]
    assert answer["history"][1]["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    added = (
        users.history()
        .list(userId="me", startHistoryId=start, historyTypes="messageAdded", maxResults=1)
        .execute()
    )
    assert added["history"][0]["messagesAdded"][0]["message"]["id"] == first
    rest = users.history().list(
        userId="me", startHistoryId=start, historyTypes="messageAdded",
        pageToken=added["nextPageToken"],
    ).execute()  # fmt: skip
    assert [h["messages"][0]["id"] for h in rest["history"]] == [second]
    latest = users.history().list(userId="me", startHistoryId=answer["historyId"]).execute()
    assert "history" not in latest


def test_expired_history_answers_404(gmail: Callable[..., Any], control: Control) -> None:
    users = gmail(AVA).users()
    start = users.getProfile(userId="me").execute()["historyId"]
    _deliver(control, "one")
    now_id = users.getProfile(userId="me").execute()["historyId"]
    control("history/expire", {"mailbox": AVA, "before": now_id})
    with pytest.raises(HttpError) as caught:
        users.history().list(userId="me", startHistoryId=start).execute()
    assert caught.value.resp.status == 404
    assert users.history().list(userId="me", startHistoryId=now_id).execute()["historyId"]


def test_history_retention_follows_the_clock(gmail: Callable[..., Any], control: Control) -> None:
    users = gmail(AVA).users()
    start = users.getProfile(userId="me").execute()["historyId"]
    _deliver(control, "old")
    control("clock", {"advance": 8 * 86400})
    _deliver(control, "new")
    with pytest.raises(HttpError) as caught:
        users.history().list(userId="me", startHistoryId=start).execute()
    assert caught.value.resp.status == 404

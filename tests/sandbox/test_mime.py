"""Mail as some mailers write it: raw 8-bit headers read as text, and a MIME bomb refused."""

from collections.abc import Callable
from typing import Any

import pytest
import requests
from googleapiclient.errors import HttpError

from tests.support.mail import b64, eight_bit_eml, nested_eml
from tests.support.sandbox import AVA, Control

Gmail = Callable[..., Any]


@pytest.mark.parametrize("charset", ["utf-8", "cp1252"])
def test_raw_8bit_headers_come_back_as_text(gmail: Gmail, control: Control, charset: str) -> None:
    """UTF-8 first, then Windows-1252 (which Latin-1 text reads the same as): never U+FFFD."""
    control("deliver", {"to": AVA, "raw": b64(eight_bit_eml(charset))})
    users = gmail(AVA).users()
    [listed] = users.messages().list(userId="me").execute()["messages"]
    full = users.messages().get(userId="me", id=listed["id"]).execute()
    headers = {h["name"]: h["value"] for h in full["payload"]["headers"]}
    assert headers["From"] == "Lars Øberg <lars@oberg.example>"
    assert headers["Subject"] == "Präsentation für Montag"
    attachment = full["payload"]["parts"][1]
    assert attachment["filename"] == "Präsentation.pdf"
    assert {h["name"]: h["value"] for h in attachment["headers"]}["Content-Disposition"] == (
        'attachment; filename="Präsentation.pdf"'
    )
    metadata = users.messages().get(userId="me", id=listed["id"], format="metadata").execute()
    assert "Lars Øberg <lars@oberg.example>" in [h["value"] for h in metadata["payload"]["headers"]]
    found = users.messages().list(userId="me", q="from:lars subject:präsentation").execute()
    assert [m["id"] for m in found["messages"]] == [listed["id"]]


def test_a_mime_bomb_is_refused_with_a_400_not_a_500(gmail: Gmail, control: Control) -> None:
    messages = gmail(AVA).users().messages()
    for depth in (500, 5000):  # past our limit; past the stdlib parser's recursion
        with pytest.raises(HttpError) as refused:
            messages.insert(userId="me", body={"raw": b64(nested_eml(depth))}).execute()
        assert refused.value.resp.status == 400
        assert refused.value.error_details[0]["reason"] == "invalidArgument"
        assert "nested deeper than 100 levels" in str(refused.value)
        answer = requests.post(
            f"{control.url}/_sandbox/deliver",
            json={"to": AVA, "raw": b64(nested_eml(depth))},
            timeout=10,
        )
        assert answer.status_code == 400
        assert "nested deeper than 100 levels" in answer.json()["error"]
    assert messages.list(userId="me").execute().get("messages", []) == []
    # As deep as a real client might go is fine.
    messages.insert(userId="me", body={"raw": b64(nested_eml(100))}).execute()

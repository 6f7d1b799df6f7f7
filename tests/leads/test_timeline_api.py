"""GET /api/v1/leads/<id>/messages: each email once, newest first, page by page."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    MessageFactory,
    ThreadFactory,
    ThreadLeadFactory,
    api_token,
)

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def test_messages_page_by_page_each_once(client: FlaskClient, session: Session) -> None:
    ava = MemberFactory()
    ben = MemberFactory(workspace=ava.workspace)
    lead = LeadFactory(owner=ava)
    lead.first_inbound_at = T0
    session.commit()
    box_a, box_b = MailboxFactory(member=ava), MailboxFactory(member=ben)
    copy_a, copy_b = (
        ThreadFactory(mailbox=box_a, subject="Deal"),
        ThreadFactory(mailbox=box_b, subject="Deal"),
    )
    ThreadLeadFactory(thread=copy_a, lead=lead)
    ThreadLeadFactory(thread=copy_b, lead=lead)
    for n in range(23):
        at = T0 + dt.timedelta(minutes=n)
        MessageFactory(
            thread=copy_a,
            at=at,
            rfc=f"<{n}@x>",
            html=f"<p>email {n}</p><script>x()</script>",
            text=None,
            attachments=[{"filename": f"{n}.pdf", "mime_type": "application/pdf", "size": n}],
        )
        if n % 2:
            MessageFactory(thread=copy_b, at=at, rfc=f"<{n}@x>")  # Ben's copy of every other one
    MessageFactory(thread=copy_b, at=T0 + dt.timedelta(hours=1), rfc=None, snippet="no id")
    headers = {"Authorization": f"Bearer {api_token(ava)}"}

    seen, page = [], 1
    while page:
        answer = client.get(
            f"/api/v1/leads/{lead.id}/messages?per_page=10&page={page}", headers=headers
        )
        assert answer.status_code == 200, answer.text
        body = answer.get_json()
        seen += body["messages"]
        page = body["next_page"]
    assert len(seen) == 24
    assert [m["sent_at"] for m in seen] == sorted((m["sent_at"] for m in seen), reverse=True)
    assert seen[0]["snippet"] == "no id"
    assert seen[0]["rfc_message_id"] is None
    by_id = {m["rfc_message_id"]: m for m in seen[1:]}
    assert len(by_id) == 23
    # Ava's own copy of each, sanitized on the way out.
    assert {m["thread_id"] for m in by_id.values()} == {copy_a.id}
    first = by_id["<0@x>"]
    assert first["body_html"].startswith("<p>email 0</p>")
    assert "<script" not in first["body_html"]
    assert first["body_text"] == "email 0"
    assert first["attachments"] == [
        {"filename": "0.pdf", "mime_type": "application/pdf", "size": 0}
    ]
    assert (first["direction"], first["content"]) == ("in", "full")

    lead_json = client.get(f"/api/v1/leads/{lead.id}", headers=headers).get_json()
    assert lead_json["first_inbound_at"] == T0.isoformat()
    assert lead_json["first_response_at"] is None

    for bad in ("page=0", "per_page=500", "page=x"):
        answer = client.get(f"/api/v1/leads/{lead.id}/messages?{bad}", headers=headers)
        assert answer.status_code == 400, bad
        assert answer.get_json()["error"]["message"]
    assert client.get(f"/api/v1/leads/{lead.id}/messages").status_code == 401

"""A one-off email from the lead page: composed or a reply in the lead's thread, from the
rep's own Gmail through the outbox, sent once however often the form is submitted, and in
the timeline once synced back; the quota meter on the Gmail page and in the API."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from inboxcrm.accounts.models import SyncState
from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.mail.models import Message, Thread
from inboxcrm.outbox.dispatch import dispatch_due
from inboxcrm.outbox.models import Send, SourceKind
from inboxcrm.setup import SYNC_STEPS
from tests import factories
from tests.support.mail import ANSWER, PROPOSAL
from tests.support.outbox import Outbox
from tests.support.sandbox import AVA, deliver

pytestmark = pytest.mark.google
NINA = "nina.berg@vandelay.co.uk"


def _synced_nina(outbox: Outbox) -> tuple[Lead, Thread]:
    deliver(outbox.control, AVA, PROPOSAL, sent=True)
    deliver(outbox.control, AVA, ANSWER)
    outbox.control("contacts", {"emails": [NINA]})
    state = sync_claimed(outbox.runtime, outbox.mailbox.id, SYNC_STEPS, stop=lambda: False)
    assert state is SyncState.idle
    lead = outbox.session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()
    thread = outbox.session.scalars(select(Thread)).one()
    return lead, thread


def _form(html: str) -> dict[str, str]:
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))
    return {k: fields[k] for k in ("csrf_token", "key", "thread_id") if k in fields}


def test_a_reply_from_the_lead_page_goes_once_in_the_leads_thread(
    outbox: Outbox, client: FlaskClient
) -> None:
    lead, thread = _synced_nina(outbox)
    page = client.get(f"/leads/{lead.id}?reply={thread.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Replying in “Re: Proposal”" in html
    form = {**_form(html), "text": "Tuesday works for me."}
    for _ in range(2):  # a double submit
        answer = client.post(f"/leads/{lead.id}/email", data=form)
        assert answer.status_code == 302
    sends = list(outbox.session.scalars(select(Send)))
    assert len(sends) == 1
    assert sends[0].source_kind is SourceKind.oneoff
    assert "queued" in client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert dispatch_due(outbox.runtime, utcnow()).sent == 1
    (sent,) = outbox.sent()
    assert sent["threadId"] == thread.gmail_id
    assert sent["subject"] == "Re: Proposal"
    assert sent["recipients"] == [NINA]
    sync_claimed(outbox.runtime, outbox.mailbox.id, SYNC_STEPS, stop=lambda: False)
    outbox.session.expire_all()
    send = outbox.session.get_one(Send, sends[0].id)
    mine = outbox.session.scalars(
        select(Message).where(Message.rfc_message_id == send.message_id)
    ).one()
    assert mine.thread_id == thread.id
    assert mine.in_reply_to == "<answer@vandelay.co.uk>"
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert "Tuesday works for me." in page  # in the timeline
    assert 'data-send-state="sent"' in page


def test_a_new_email_needs_a_subject_and_no_line_breaks(
    outbox: Outbox, client: FlaskClient
) -> None:
    lead = outbox.lead()
    form = _form(client.get(f"/leads/{lead.id}").get_data(as_text=True))
    for subject in ("", "Hi\r\nBcc: all@victim.example"):
        client.post(f"/leads/{lead.id}/email", data={**form, "subject": subject, "text": "x"})
    assert outbox.session.scalars(select(Send)).first() is None
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert "Nothing was sent" in page


def test_the_api_queues_a_one_off_email_and_shows_the_quota_meter(
    outbox: Outbox, client: FlaskClient
) -> None:
    lead = outbox.lead()
    member = outbox.mailbox.member
    headers = {"Authorization": f"Bearer {factories.api_token(member)}"}
    body = {"subject": "Hello", "text": "Hi there", "key": "k" * 20}
    for _ in range(2):
        answer = client.post(f"/api/v1/leads/{lead.id}/sends", json=body, headers=headers)
        assert answer.status_code == 202, answer.json
    assert answer.json is not None
    assert answer.json["state"] == "planned"
    meter = client.get(f"/api/v1/mailboxes/{outbox.mailbox.id}/sending", headers=headers).json
    assert meter is not None
    assert (meter["sent_24h"], meter["cap"], meter["queued"]) == (0, 1600, 1)
    dispatch_due(outbox.runtime, utcnow())
    meter = client.get(f"/api/v1/mailboxes/{outbox.mailbox.id}/sending", headers=headers).json
    assert meter is not None
    assert (meter["sent_24h"], meter["queued"]) == (1, 0)
    assert meter["next_free_at"] > utcnow().isoformat()
    sends = client.get(f"/api/v1/leads/{lead.id}/sends", headers=headers).json
    assert sends is not None
    assert [s["state"] for s in sends["sends"]] == ["sent"]
    capped = client.patch(
        f"/api/v1/mailboxes/{outbox.mailbox.id}/sending", json={"daily_cap": 50}, headers=headers
    )
    assert capped.json is not None
    assert capped.json["cap"] == 50
    for bad in ({"daily_cap": 0}, {"daily_cap": "many"}, {"daily_cap": 5000}):
        refused = client.patch(
            f"/api/v1/mailboxes/{outbox.mailbox.id}/sending", json=bad, headers=headers
        )
        assert refused.status_code == 422
    html = client.get("/mailboxes").get_data(as_text=True)
    assert "Sent 1 of 50 in the last 24 hours" in html


def test_another_reps_mailbox_meter_is_not_theirs_to_see(
    outbox: Outbox, client: FlaskClient
) -> None:
    other = factories.MemberFactory(workspace=outbox.mailbox.member.workspace)
    headers = {"Authorization": f"Bearer {factories.api_token(other)}"}
    answer = client.get(f"/api/v1/mailboxes/{outbox.mailbox.id}/sending", headers=headers)
    assert answer.status_code == 403
    stranger = factories.MemberFactory()
    headers = {"Authorization": f"Bearer {factories.api_token(stranger)}"}
    answer = client.get(f"/api/v1/mailboxes/{outbox.mailbox.id}/sending", headers=headers)
    assert answer.status_code == 404

"""Four `inboxcrm outbox dispatch` processes against one outbox (PostgreSQL in the
`-m db` run, SKIP LOCKED claims; SQLite's conditional updates otherwise): every Send goes
once, none twice, and none is lost."""

from __future__ import annotations

from collections import Counter

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from inboxcrm.accounts.models import Mailbox
from inboxcrm.config import Settings
from inboxcrm.outbox.models import MailboxSending, Send, SendState
from tests.support.commands import start
from tests.support.outbox import Outbox
from tests.support.sandbox import BEN, MIA
from tests.support.web import google_signin

pytestmark = [pytest.mark.google, pytest.mark.slow]

PER_MAILBOX = 40


def test_four_dispatchers_send_every_row_exactly_once(
    outbox: Outbox, client: FlaskClient, google_settings: Settings
) -> None:
    for email in (BEN, MIA):
        google_signin(client, email)
    mailboxes = list(outbox.session.scalars(select(Mailbox)))
    assert len(mailboxes) == 3
    for mailbox in mailboxes:
        outbox.mailbox = mailbox
        for _ in range(PER_MAILBOX):
            outbox.plan()
    for sending in outbox.session.scalars(select(MailboxSending)):  # no gaps: they race
        sending.gap_min_seconds = sending.gap_max_seconds = 0
    outbox.session.commit()
    processes = [start(google_settings, "outbox", "dispatch") for _ in range(4)]
    for process in processes:
        assert process.wait(timeout=300) == 0
    outbox.session.expire_all()
    states = Counter(outbox.session.scalars(select(Send.state)))
    assert states == {SendState.sent: 3 * PER_MAILBOX}
    sent = outbox.sent()
    tokens = Counter(s["messageId"] for s in sent)
    assert len(sent) == 3 * PER_MAILBOX
    assert max(tokens.values()) == 1  # none twice
    assert {s["id"] for s in sent} == set(outbox.session.scalars(select(Send.gmail_id)))

"""Segments over what a campaign's and a sequence's emails did, end to end against the
sandbox: the simulated audience opens, clicks and replies to a campaign sent through the
outbox, the replies are synced back, and "opened / clicked / replied to / received campaign
X" select exactly those leads; a sequence's step N is its Nth step, and a reply to a
follow-up in the same thread answers the follow-up, not the first email."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from inboxcrm.accounts.models import SyncState
from inboxcrm.config import Settings
from inboxcrm.db import utcnow
from inboxcrm.errors import Invalid
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.outbox.jobs import classify_hits
from inboxcrm.outbox.models import Send, SourceKind
from inboxcrm.runtime import Runtime
from inboxcrm.segments import service
from inboxcrm.segments.filters import parse
from inboxcrm.setup import SYNC_STEPS, keyed
from inboxcrm.tenancy import Scope
from tests.support import sequences as seq
from tests.support.campaigns import Campaigns, dispatch_all
from tests.support.sandbox import audience, run_due

pytestmark = pytest.mark.google
DAY = dt.timedelta(days=1)
CUSTOMERS = {"field": "email", "op": "contains", "value": "customer.example"}


def who(scope: Scope, condition: dict[str, Any]) -> set[str]:
    node = parse({"and": [CUSTOMERS, condition]})
    now = utcnow()
    leads = service.first_leads(scope, node, now, limit=100)
    assert service.count(scope, node, now) == len(leads)
    return {lead.email.split("@")[0] for lead in leads}


def did(kind: str, op: str = "ever", value: int | None = None, **of: int) -> dict[str, Any]:
    out: dict[str, Any] = {"field": "activity", "kind": kind, "op": op, "of": of}
    if value is not None:
        out["value"] = value
    return out


def test_opened_clicked_replied_to_and_received_a_campaign(
    campaigns: Campaigns, served: tuple[str, Settings]
) -> None:
    c = campaigns
    _url, settings = served
    runtime = Runtime(c.outbox.db, settings, workers=1)
    person = c.outbox.lead("person@customer.example", name="Pat Person")
    replier = c.outbox.lead("replier@customer.example", name="Rae Replier")
    c.outbox.lead("quiet@customer.example", name="Quinn Quiet")
    audience(c.outbox.control, people={person.email: ["person_open", "click"],
                                       replier.email: ["reply"]})  # fmt: skip
    then = utcnow() - dt.timedelta(hours=3)
    c.unpaced()
    spring = c.launch(c.draft(), then)
    autumn = c.draft("Autumn")  # never launched: nobody received it
    assert dispatch_all(runtime, then).sent == 3
    run_due(c.outbox.control, advance=3 * 3600)
    classify_hits(c.outbox.db, utcnow())
    state = sync_claimed(runtime, c.outbox.mailbox.id, keyed(SYNC_STEPS, runtime),
                         stop=lambda: False)  # fmt: skip
    assert state is SyncState.idle
    c.outbox.session.expire_all()

    scope = c.scope
    assert who(scope, did("open", campaign=spring.id)) == {"person"}
    assert who(scope, did("click", campaign=spring.id)) == {"person"}
    assert who(scope, did("reply", campaign=spring.id)) == {"replier"}
    assert who(scope, did("reply", "within_days", 1, campaign=spring.id)) == {"replier"}
    assert who(scope, did("message_out", campaign=spring.id)) == {"person", "replier", "quiet"}
    assert who(scope, did("open", "never", campaign=spring.id)) == {"replier", "quiet"}
    assert who(scope, did("message_out", campaign=autumn.id)) == set()
    assert who(scope, did("reply", campaign=autumn.id)) == set()

    # The reply names the Send it answers; the person's open and click name theirs.
    replied_send = c.outbox.session.scalars(
        select(Send.id).where(Send.source_kind == SourceKind.campaign, Send.lead_id == replier.id)
    ).one()
    reply = c.outbox.session.scalars(
        select(Activity).where(Activity.lead_id == replier.id, Activity.kind == ActivityKind.reply)
    ).one()
    assert reply.send_id == replied_send
    engaged = c.outbox.session.scalars(
        select(Activity.send_id).where(Activity.lead_id == person.id,
                                       Activity.kind.in_((ActivityKind.open, ActivityKind.click)))
    ).all()  # fmt: skip
    assert engaged
    assert all(s is not None and s != replied_send for s in engaged)

    node = parse(
        {"and": [did("reply", campaign=spring.id), did("open", "never", campaign=spring.id)]}
    )
    held, verdicts = service.explain(
        scope, node, c.outbox.session.get_one(Lead, replier.id), utcnow()
    )
    assert held
    assert [(v.text, v.held) for v in verdicts][1:] == [
        ("replied to campaign “Spring”", True),
        ("never opened campaign “Spring”", True),
    ]

    with pytest.raises(Invalid, match="and\\[1\\]: there is no campaign 999999"):
        who(scope, did("open", campaign=999_999))


def test_received_and_replied_to_step_n_of_a_sequence(campaigns: Campaigns) -> None:
    outbox = campaigns.outbox
    ana = outbox.lead("ana@customer.example", name="Ana Lima")
    outbox.lead("ben@customer.example", name="Ben Other")
    sequence = seq.sequence(outbox)  # 1 email, 2 wait, 3 follow-up, 4 wait, 5 email
    t0 = utcnow()
    seq.enrolled(outbox, sequence, ana, t0)
    seq.advance(outbox, t0)
    assert seq.dispatch(outbox, t0).sent == 1
    seq.advance(outbox, t0 + 3 * DAY + dt.timedelta(minutes=1))
    assert seq.dispatch(outbox, t0 + 3 * DAY + dt.timedelta(minutes=2)).sent == 1
    follow_up = seq.sends(outbox)[1]
    seq.reply(outbox, follow_up, t0 + 3 * DAY + dt.timedelta(hours=1))
    seq.sync(outbox)

    scope = campaigns.scope
    sid = sequence.id
    assert who(scope, did("message_out", sequence=sid, step=1)) == {"ana"}
    assert who(scope, did("message_out", sequence=sid, step=3)) == {"ana"}
    assert who(scope, did("message_out", sequence=sid, step=5)) == set()  # not yet sent
    assert who(scope, did("message_out", "never", sequence=sid, step=5)) == {"ana", "ben"}
    assert who(scope, did("message_out", sequence=sid)) == {"ana"}
    # The reply came on the follow-up, in the first email's thread: it answers step 3.
    assert who(scope, did("reply", sequence=sid, step=3)) == {"ana"}
    assert who(scope, did("reply", sequence=sid, step=1)) == set()
    assert who(scope, did("reply", sequence=sid)) == {"ana"}

    with pytest.raises(Invalid, match=r"step 2 of sequence “.*” is a wait step"):
        who(scope, did("message_out", sequence=sid, step=2))
    with pytest.raises(Invalid, match="has 5 steps: there is no step 9"):
        who(scope, did("message_out", sequence=sid, step=9))
    with pytest.raises(Invalid, match="there is no sequence 999999"):
        who(scope, did("message_out", sequence=999_999, step=1))

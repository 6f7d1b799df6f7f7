"""A campaign end to end against the sandbox's simulated audience, with the app served over
HTTP at the base URL the mail carries: the one-click POST unsubscribes, a person's open and
click become activities while Apple's prefetch, Gmail's image proxy and a link scanner do
not, and a reply lands on the lead's thread, in the results and in the lead's score."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from inboxcrm.accounts.models import SyncState
from inboxcrm.campaigns.stats import stats
from inboxcrm.config import Settings
from inboxcrm.db import utcnow
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.outbox.jobs import classify_hits
from inboxcrm.outbox.models import Send, SourceKind, Suppression, SuppressionReason
from inboxcrm.runtime import Runtime
from inboxcrm.setup import SYNC_STEPS, keyed
from tests.support.campaigns import Campaigns, dispatch_all
from tests.support.sandbox import audience, audience_log, run_due

pytestmark = pytest.mark.google


def _activities(c: Campaigns, lead: Lead) -> list[ActivityKind]:
    c.outbox.session.expire_all()
    return sorted(
        c.outbox.session.scalars(
            select(Activity.kind).where(
                Activity.lead_id == lead.id,
                Activity.kind.in_((ActivityKind.open, ActivityKind.click, ActivityKind.reply)),
            )
        )
    )


def test_the_audience_unsubscribes_opens_clicks_and_replies_and_only_people_count(
    campaigns: Campaigns, served: tuple[str, Settings], client: FlaskClient
) -> None:
    c = campaigns
    url, settings = served
    runtime = Runtime(c.outbox.db, settings, workers=1)
    leaving = c.outbox.lead("leaving@customer.example", name="Lea Leaving")
    person = c.outbox.lead("person@customer.example", name="Pat Person")
    machines = c.outbox.lead("machines@customer.example", name="Max Machine")
    replier = c.outbox.lead("replier@customer.example", name="Rae Replier")
    audience(
        c.outbox.control,
        people={
            leaving.email: ["unsubscribe"],
            person.email: ["person_open", "click"],
            machines.email: ["mpp", "scanner", "image_proxy"],
            replier.email: ["reply"],
        },
    )
    # Sent three hours ago, as far as the tracking tokens know: a person's open now is
    # hours after delivery, not seconds (the sandbox's clock is moved on to match).
    then = utcnow() - dt.timedelta(hours=3)
    c.unpaced()
    campaign = c.launch(c.draft(), then)
    assert dispatch_all(runtime, then).sent == 4
    run_due(c.outbox.control, advance=3 * 3600)
    log = audience_log(c.outbox.control)
    fetched = [e for e in log if str(e.get("url", "")).startswith(url)]
    assert fetched, log
    assert all(e["status"] in (200, 302) for e in fetched), fetched
    classify_hits(c.outbox.db, utcnow())

    c.outbox.session.expire_all()
    gone = c.outbox.session.scalars(
        select(Suppression).where(Suppression.pattern == leaving.email)
    ).one()
    assert gone.reason is SuppressionReason.unsubscribed
    assert gone.source == "one_click"
    leaving_send = c.outbox.session.scalars(
        select(Send).where(Send.source_kind == SourceKind.campaign, Send.lead_id == leaving.id)
    ).one()
    assert gone.send_ref == str(leaving_send.id)
    assert _activities(c, person) == [ActivityKind.click, ActivityKind.open]
    assert _activities(c, machines) == []  # the proxy, the prefetch and the scanner

    state = sync_claimed(runtime, c.outbox.mailbox.id, keyed(SYNC_STEPS, runtime),
                         stop=lambda: False)  # fmt: skip
    assert state is SyncState.idle
    assert _activities(c, replier) == [ActivityKind.reply]
    c.outbox.session.expire_all()
    assert c.outbox.session.get_one(Lead, replier.id).last_replied_at is not None

    found = stats(c.scope, campaign, utcnow())
    assert found.sent == 4
    assert (found.opens, found.clicks, found.replies, found.unsubscribes) == (1, 1, 1, 1)
    assert found.machine_opens >= 2
    assert found.machine_clicks >= 1
    assert [r.lead_id for r in found.reply_list] == [replier.id]
    assert found.rates["replied"] == 0.25

    page = client.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    assert "Rae Replier" in page.text
    live = client.get(f"/campaigns/{campaign.id}/stats.json").json
    assert live["results"]["replies"] == 1
    assert live["results"]["opens"] == 1
    assert live["replies"][0]["lead_id"] == replier.id
    lead_page = client.get(f"/leads/{replier.id}")
    assert "Spring offer for Rae" in lead_page.text  # the thread, with the reply in it

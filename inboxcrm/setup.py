"""The one place that sees every domain: it assembles the sync steps, the clock's jobs,
the API's blueprints and the lead page's panels. Domains know only the layers below them
(see docs/architecture.md); whatever must react to synced mail, run on the clock, answer
under /api/v1 or show on the lead page is listed here, in order, and nowhere else."""

from __future__ import annotations

import datetime as dt
from functools import partial

from flask import Blueprint

from inboxcrm.campaigns.jobs import SETTLE_TICK, settle_due
from inboxcrm.exchange.jobs import imports_due
from inboxcrm.labels.steps import ensure_stage_labels, stages_from_labels
from inboxcrm.labels.to_gmail import relabel_due
from inboxcrm.leads.jobs import link_mail_due, recapture_due
from inboxcrm.leads.lead_page import LeadPanel
from inboxcrm.leads.steps import capture_mail
from inboxcrm.mail.jobs import SYNC_TICK, sync_due
from inboxcrm.mail.steps import SyncSteps
from inboxcrm.outbox.checks import CHECKS
from inboxcrm.outbox.jobs import DISPATCH_TICK, classify_due, dispatch_sends
from inboxcrm.outbox.replies import replies_to_sends
from inboxcrm.outbox.steps import suppress_from_mail, with_secret
from inboxcrm.pipeline.tally import fold_due
from inboxcrm.runtime import Job, Runtime, heartbeat
from inboxcrm.scoring.actions.steps import act_on_signals
from inboxcrm.scoring.actions.waits import check_waits_due
from inboxcrm.scoring.jobs import rescore_due
from inboxcrm.scoring.steps import score_leads
from inboxcrm.sequences.advance import advance_due
from inboxcrm.sequences.exits import left_sequence, sequence_exits
from inboxcrm.sequences.triggers import triggers_due
from inboxcrm.signals.steps import detect_signals
from inboxcrm.webhooks.jobs import webhooks_due

# Every stored batch of mail, in its transaction, in this order: its people become (or
# match) leads first, so that their signals (replies, bounces ...) find the leads and
# scoring reads the activities the signals stored; stage labels on the same threads find
# their primary leads. What the signals set off follows them: their unsubscribes and hard
# bounces (and a mailed unsubscribe) suppress their addresses before anything is sent
# again, and a reply to one of our Sends is marked as answering it; a lead asking to stop
# receiving email, or a new inbound lead's wait, notifies its owner. A reply, meeting, hard
# bounce or unsubscribe ends the lead's sequences in the same transaction (an
# out-of-office postpones them), before anything is sent again.
SYNC_STEPS = SyncSteps(
    prepare=(ensure_stage_labels,),
    batch=(
        capture_mail,
        detect_signals,
        sequence_exits,
        suppress_from_mail,
        replies_to_sends,
        score_leads,
        act_on_signals,
        stages_from_labels,
    ),
)


# What every send is checked for just before it goes: the outbox's own, and whether a
# sequence step's enrollment ended (a reply synced after the step was planned).
SEND_CHECKS = (*CHECKS, left_sequence)


def jobs(steps: SyncSteps = SYNC_STEPS) -> tuple[Job, ...]:
    """The clock's ticks: each claims due rows from a database queue, so a tick run twice,
    late or on two machines at once does no harm."""
    return (
        Job("heartbeat", dt.timedelta(seconds=30), heartbeat),
        Job("sync_mailboxes", SYNC_TICK, partial(_sync_due, steps=steps)),
        Job("relabel_threads", dt.timedelta(seconds=15), relabel_due),
        Job("link_mail", dt.timedelta(seconds=15), link_mail_due),
        Job("recapture_leads", dt.timedelta(seconds=15), recapture_due),
        Job("rescore_leads", dt.timedelta(minutes=1), rescore_due),
        Job("check_inbound_waits", dt.timedelta(minutes=1), check_waits_due),
        Job("classify_hits", dt.timedelta(seconds=15), classify_due),
        Job("advance_sequences", dt.timedelta(seconds=15), advance_due),
        Job("enroll_by_triggers", dt.timedelta(minutes=1), triggers_due),
        Job("dispatch_sends", DISPATCH_TICK, partial(dispatch_sends, checks=SEND_CHECKS)),
        Job("run_imports", dt.timedelta(seconds=5), imports_due),
        Job("deliver_webhooks", dt.timedelta(seconds=5), webhooks_due),
        Job("settle_campaigns", SETTLE_TICK, settle_due),
        Job("fold_tallies", dt.timedelta(minutes=1), fold_due),
    )


def keyed(steps: SyncSteps, runtime: Runtime) -> SyncSteps:
    """The steps as a process without an app runs them (the clock, `inboxcrm sync`): the
    step that reads unsubscribe tokens gets the secret from the runtime's settings."""
    return with_secret(steps, runtime.settings.secret_key)


def _sync_due(runtime: Runtime, now: dt.datetime, steps: SyncSteps) -> object:
    return sync_due(runtime, now, steps=keyed(steps, runtime))


def lead_panels() -> tuple[LeadPanel, ...]:
    """What the domains above leads show on the lead page, in order."""
    from inboxcrm.outbox.panel import email_panel, suppression_panel, tracking_panel
    from inboxcrm.scoring.panel import score_panel
    from inboxcrm.sequences.views import sequences_panel

    return (score_panel, email_panel, suppression_panel, tracking_panel, sequences_panel)


def api_blueprints() -> tuple[Blueprint, ...]:
    """Each domain's /api/v1 routes."""
    from inboxcrm.campaigns import api as campaigns_api
    from inboxcrm.exchange import api as exchange_api
    from inboxcrm.leads import api as leads_api
    from inboxcrm.leads import company_api, junk_api, timeline_api
    from inboxcrm.notifications import api as notifications_api
    from inboxcrm.outbox import api as outbox_api
    from inboxcrm.pipeline import api as pipeline_api
    from inboxcrm.scoring import api as scoring_api
    from inboxcrm.scoring.actions import api as actions_api
    from inboxcrm.segments import api as segments_api
    from inboxcrm.sequences import api as sequences_api
    from inboxcrm.team import api as team_api
    from inboxcrm.webhooks import api as webhooks_api

    return (
        leads_api.bp, company_api.bp, junk_api.bp, timeline_api.bp, pipeline_api.bp,
        notifications_api.bp, scoring_api.bp, actions_api.bp, outbox_api.bp, segments_api.bp,
        campaigns_api.bp, team_api.bp, sequences_api.bp, exchange_api.bp, webhooks_api.bp,
    )  # fmt: skip

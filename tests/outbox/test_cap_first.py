"""Campaigns and sequence steps share a mailbox's daily cap: when it cannot take all that
is due, the kind the workspace chose goes first and the other waits for the cap, nothing
dropped or sent twice; a rep's one-off email always goes before both; and with cap to
spare everything goes as it fell due. The rule is an admin's, on the sending page."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.db import utcnow
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.outbox import pacing
from inboxcrm.outbox.dispatch import dispatch_due
from inboxcrm.outbox.models import CapFirst, Send, SendState, SourceKind
from inboxcrm.outbox.service import sending_of
from inboxcrm.outbox.settings import outbox_settings, save_settings
from tests import factories
from tests.factories import MemberFactory
from tests.support.outbox import Outbox
from tests.support.web import csrf_token, sign_in

MINUTE = dt.timedelta(minutes=1)


def _rule(outbox: Outbox, first: str) -> None:
    member = outbox.mailbox.member
    assert member is not None
    member.role = Role.admin
    save_settings(outbox.session, member, "1 Main St", False, cap_first=first)
    outbox.session.commit()


def _cap(outbox: Outbox, cap: int) -> None:
    sending_of(outbox.session, outbox.mailbox).daily_cap = cap
    outbox.session.commit()


def _drain(outbox: Outbox, start: dt.datetime, ticks: int = 8) -> None:
    """Dispatch ticks two minutes apart (longer than any gap between two sends)."""
    for n in range(ticks):
        dispatch_due(outbox.runtime, start + 2 * n * MINUTE, random=lambda: 0.0)


def _sent_order(outbox: Outbox) -> list[str]:
    """The subjects Gmail sent, in the order it sent them."""
    return [m["subject"] for m in outbox.sent()]


def _states(outbox: Outbox, sends: list[Send]) -> list[SendState]:
    return [outbox.refresh(s).state for s in sends]


@pytest.mark.google
@pytest.mark.parametrize(
    ("first", "then"), [("sequences", SourceKind.campaign), ("campaigns", SourceKind.step)]
)
def test_the_chosen_kind_goes_first_and_the_other_waits_for_the_cap(
    outbox: Outbox, first: str, then: SourceKind
) -> None:
    _rule(outbox, first)
    _cap(outbox, 3)
    now = utcnow()
    # the campaign fell due first: were the cap enough, it would go first
    campaign = [
        outbox.plan(subject=f"campaign {n}", due_at=now - 10 * MINUTE + n * MINUTE)
        for n in range(3)
    ]
    steps = [
        outbox.plan(kind=SourceKind.step, subject=f"step {n}", due_at=now - 5 * MINUTE + n * MINUTE)
        for n in range(3)
    ]
    chosen, other = (steps, campaign) if first == "sequences" else (campaign, steps)
    _drain(outbox, now)
    assert _states(outbox, chosen) == [SendState.sent] * 3
    assert _states(outbox, other) == [SendState.planned] * 3  # waiting, not dropped
    assert all(outbox.refresh(s).source_kind is then for s in other)
    # the cap frees a day after the first send: the rest goes then, each once
    _drain(outbox, now + pacing.DAY + MINUTE)
    assert _states(outbox, campaign + steps) == [SendState.sent] * 6
    order = _sent_order(outbox)
    assert len(order) == len(set(order)) == 6
    kinds = [name.split()[0] for name in order]
    assert kinds == (["step"] * 3 + ["campaign"] * 3 if first == "sequences" else
                     ["campaign"] * 3 + ["step"] * 3)  # fmt: skip


@pytest.mark.google
def test_a_reps_own_email_goes_before_both_and_spare_cap_keeps_the_order_due(
    outbox: Outbox,
) -> None:
    _rule(outbox, "campaigns")
    now = utcnow()
    step = outbox.plan(kind=SourceKind.step, subject="step", due_at=now - 3 * MINUTE)
    campaign = outbox.plan(subject="campaign", due_at=now - 2 * MINUTE)
    oneoff = outbox.plan(kind=SourceKind.oneoff, subject="from the rep", due_at=now - MINUTE)
    _drain(outbox, now)
    assert _states(outbox, [step, campaign, oneoff]) == [SendState.sent] * 3
    # plenty of cap: the rep's email first, then as they fell due (the step before)
    assert _sent_order(outbox) == ["from the rep", "step", "campaign"]


@pytest.mark.google
def test_a_reps_own_email_goes_first_even_when_the_cap_is_short(outbox: Outbox) -> None:
    _rule(outbox, "sequences")
    _cap(outbox, 1)
    now = utcnow()
    step = outbox.plan(kind=SourceKind.step, subject="step", due_at=now - 2 * MINUTE)
    oneoff = outbox.plan(kind=SourceKind.oneoff, subject="from the rep", due_at=now - MINUTE)
    _drain(outbox, now)
    assert _states(outbox, [oneoff, step]) == [SendState.sent, SendState.planned]


@pytest.mark.db
def test_only_admins_choose_and_a_bad_choice_is_refused(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace)
    assert outbox_settings(session, admin.workspace_id).cap_first is CapFirst.sequences
    with pytest.raises(Forbidden):
        save_settings(session, rep, "", False, cap_first="campaigns")
    with pytest.raises(Invalid, match="sequences or campaigns"):
        save_settings(session, admin, "", False, cap_first="whoever shouts")
    save_settings(session, admin, "", False, cap_first="campaigns")
    session.commit()
    assert outbox_settings(session, admin.workspace_id).cap_first is CapFirst.campaigns
    save_settings(session, admin, "", False)  # not given: kept
    assert outbox_settings(session, admin.workspace_id).cap_first is CapFirst.campaigns


@pytest.mark.db
def test_the_sending_page_shows_and_saves_the_rule(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    page = sign_in(client, admin).get("/settings/sending")
    assert 'value="sequences" checked' in page.text
    saved = client.post(
        "/settings/sending",
        data={"csrf_token": csrf_token(page.text), "postal_address": "", "cap_first": "campaigns"},
    )
    assert saved.status_code == 302
    assert 'value="campaigns" checked' in client.get("/settings/sending").text
    session.expire_all()
    assert outbox_settings(session, admin.workspace_id).cap_first is CapFirst.campaigns
    bad = client.post(
        "/settings/sending",
        data={"csrf_token": csrf_token(page.text), "postal_address": "", "cap_first": "both"},
    )
    assert bad.status_code in (400, 422)


@pytest.mark.db
def test_the_api_reads_the_settings_and_only_admins_change_them(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace)
    as_admin = {"Authorization": f"Bearer {factories.api_token(admin)}"}
    as_rep = {"Authorization": f"Bearer {factories.api_token(rep)}"}
    read = client.get("/api/v1/settings/sending", headers=as_rep)
    assert read.json == {
        "postal_address": "",
        "tracking": False,
        "frequency_cap": outbox_settings(session, admin.workspace_id).frequency_cap,
        "cap_first": "sequences",
    }
    change = {"cap_first": "campaigns", "postal_address": "1 Harbour St, Leith"}
    assert client.patch("/api/v1/settings/sending", json=change, headers=as_rep).status_code == 403
    saved = client.patch("/api/v1/settings/sending", json=change, headers=as_admin)
    assert saved.status_code == 200
    assert (saved.json["cap_first"], saved.json["postal_address"]) == (
        "campaigns",
        "1 Harbour St, Leith",
    )
    assert saved.json["tracking"] is False  # not given: kept
    # Bad values are refused saying which, and change nothing.
    for bad, field in (
        ({"cap_first": "whoever shouts"}, "cap_first"),
        ({"tracking": "yes"}, "tracking"),
        ({"frequency_cap": 10_000}, "frequency_cap"),
        ({"quota": 5}, "quota"),
    ):
        refused = client.patch("/api/v1/settings/sending", json=bad, headers=as_admin)
        assert refused.status_code in (400, 422), bad
        assert field in refused.text, bad
    session.expire_all()
    assert outbox_settings(session, admin.workspace_id).cap_first is CapFirst.campaigns
    assert client.get("/api/v1/settings/sending", headers=as_rep).json["cap_first"] == "campaigns"

"""A workspace's sending settings: the postal address every campaign footer carries,
whether opens and clicks are tracked, the frequency cap, and which of sequences and
campaigns goes first within a mailbox's daily cap. And the check a campaign launch makes
of them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.errors import Invalid
from inboxcrm.outbox.models import CapFirst, OutboxSettings

POSTAL_MAX = 500
FREQUENCY_MAX = 50
FREQUENCY_CAP = 3  # campaign emails per lead per week, unless the workspace says


def outbox_settings(session: Session, workspace_id: int) -> OutboxSettings:
    """The workspace's settings; unsaved defaults (no address, no tracking) if none yet."""
    found = session.scalars(
        select(OutboxSettings).where(OutboxSettings.workspace_id == workspace_id)
    ).first()
    return found or OutboxSettings(
        workspace_id=workspace_id,
        postal_address="",
        tracking=False,
        frequency_cap=FREQUENCY_CAP,
        cap_first=CapFirst.sequences,
    )


def save_settings(
    session: Session,
    actor: Member,
    postal_address: str,
    tracking: bool,
    frequency_cap: int | None = None,
    cap_first: str | None = None,
) -> OutboxSettings:
    """Save what is given (a frequency cap or a `cap_first` of None keeps the saved one)."""
    require_admin(actor, "change the sending settings")
    address = "\n".join(line.strip() for line in postal_address.strip().splitlines())
    if len(address) > POSTAL_MAX:
        raise Invalid(
            f"the postal address is longer than {POSTAL_MAX} characters",
            {"postal_address": "too long"},
        )
    if frequency_cap is not None and not 0 <= frequency_cap <= FREQUENCY_MAX:
        raise Invalid(
            f"the frequency cap is 0 to {FREQUENCY_MAX} campaign emails a week",
            {"frequency_cap": "out of range"},
        )
    first = None
    if cap_first is not None:
        try:
            first = CapFirst(cap_first)
        except ValueError:
            raise Invalid(
                "first within a mailbox's cap: sequences or campaigns",
                {"cap_first": "not sequences or campaigns"},
            ) from None
    row = outbox_settings(session, actor.workspace_id)
    row.postal_address, row.tracking = address, tracking
    if frequency_cap is not None:
        row.frequency_cap = frequency_cap
    if first is not None:
        row.cap_first = first
    session.add(row)
    session.flush()
    return row


def tracking_on(session: Session, workspace_id: int) -> bool:
    """Whether the workspace's mail carries the open pixel and click redirects."""
    return outbox_settings(session, workspace_id).tracking


def campaign_problems(session: Session, workspace_id: int) -> list[str]:
    """What keeps the workspace from launching a campaign, in words (none: ready)."""
    problems = []
    if not outbox_settings(session, workspace_id).postal_address:
        problems.append(
            "add the workspace's postal address (Settings, Sending): every campaign email "
            "carries it in its footer"
        )
    return problems


def require_campaign_ready(session: Session, workspace_id: int) -> None:
    problems = campaign_problems(session, workspace_id)
    if problems:
        raise Invalid("the campaign cannot launch: " + "; ".join(problems), {"launch": problems[0]})

"""Whether an inbound message is a reply to the team, and how long the lead took. Pure:
over the stored facts of a thread's messages, no clock, no database.

A reply is a person's message from a lead on a thread where the team wrote before it; its
latency is the time since the team's last message before it. A lead's first message to a
lead inbox (`sales@`) is an inquiry, not a reply, whatever came before it on the thread:
the lead is starting a conversation. Auto-replies and bounces are never replies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    latency: dt.timedelta  # since the team's last message before it
    answered_at: dt.datetime  # when that message was sent


def detect_reply(sent_at: dt.datetime, team_sent: Iterable[dt.datetime]) -> Reply | None:
    """A reply, when the team wrote before `sent_at` (the times of the team's messages on
    the thread, and of those it answers by In-Reply-To/References)."""
    before = [t for t in team_sent if t < sent_at]
    if not before:
        return None
    last = max(before)
    return Reply(sent_at - last, last)


def is_inquiry(to_lead_inbox: bool, first_inbound: bool) -> bool:
    """The lead's first message, written to a lead inbox."""
    return to_lead_inbox and first_inbound

"""A mailbox's sending pace (pure): its daily cap, the gaps between its sends, and which
due send goes first.

Gmail counts sent mail over a rolling 24 hours and, past its limit, accepts for a while
and then bounces (DESIGN.md): our cap stays below it, at 80 % by default. Campaigns and
sequence steps share that cap: a rep's own email goes first, and when the cap left cannot
take all that is due, the kind the workspace chose (`CapFirst`) goes before the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from inboxcrm.addresses import ascii_domain
from inboxcrm.outbox.models import CapFirst, SourceKind

DAY = dt.timedelta(hours=24)
WORKSPACE_LIMIT = 2000  # Google Workspace, messages a day
CONSUMER_LIMIT = 500  # consumer Gmail
CAP_SHARE = 0.8
CONSUMER_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
MIN_GAP = 30.0  # seconds between two sends of a mailbox, at least
MAX_GAP = 90.0  # and at most, unless the cap needs a faster pace (below)


def default_cap(email: str) -> int:
    domain = ascii_domain(email.rpartition("@")[2]) or ""
    limit = CONSUMER_LIMIT if domain in CONSUMER_DOMAINS else WORKSPACE_LIMIT
    return int(limit * CAP_SHARE)


def gap(
    cap: int,
    random: Callable[[], float],
    shortest: float = MIN_GAP,
    longest: float = MAX_GAP,
) -> dt.timedelta:
    """The wait before a mailbox's next send: random in MIN_GAP..MAX_GAP seconds, so no
    mailbox sends in bursts or like a metronome. When the cap is so high that gaps of
    that size could not reach it in a day, the longest gap shrinks so the mean pace does
    (with 5 % to spare): 1,600 a day needs a gap under 54 s on average. A mailbox may set
    its own `shortest` and `longest`."""
    needed = DAY.total_seconds() / max(cap, 1) * 0.95  # the mean gap that reaches the cap
    longest = max(shortest, min(longest, 2 * needed - shortest))
    return dt.timedelta(seconds=shortest + (longest - shortest) * random())


def ranks(first: CapFirst, short: bool) -> dict[SourceKind, int]:
    """The order due sends of a mailbox go in, by kind (lower first; within a rank the
    oldest due first). A rep's one-off email (and a marketer's test to herself) always
    leads. When the cap left is `short` of what is due, the chosen kind of marketing mail
    goes before the other; otherwise both go as they fell due."""
    ranked = {SourceKind.oneoff: 0, SourceKind.test: 0, SourceKind.step: 1, SourceKind.campaign: 1}
    if short:
        later = SourceKind.campaign if first is CapFirst.sequences else SourceKind.step
        ranked[later] = 2
    return ranked

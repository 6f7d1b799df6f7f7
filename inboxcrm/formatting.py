"""How numbers and times read on a page."""

from __future__ import annotations

import datetime as dt
import decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inboxcrm.db import utcnow

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(value: decimal.Decimal | None, currency: str = "USD") -> str:
    if value is None:
        return ""
    symbol = SYMBOLS.get(currency)
    amount = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


def ago(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    if when is None:
        return ""
    seconds = int(((now or utcnow()) - when).total_seconds())
    if seconds < 0:
        return "just now" if seconds > -60 else when.strftime("%Y-%m-%d")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            count = seconds // size
            return when.strftime("%Y-%m-%d") if unit == "d" and count > 60 else f"{count}{unit} ago"
    return "just now"


def localtime(when: dt.datetime | None, timezone: str | None = None) -> str:
    """A UTC time as the viewer reads it: in their timezone, with its abbreviation."""
    if when is None:
        return ""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def duration(delta: dt.timedelta | None) -> str:
    """`2d 3h`, `45m`: how long something took, to the two largest units."""
    if delta is None:
        return ""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return " ".join(parts[:2]) or "under a minute"


def filesize(size: int | None) -> str:
    value = float(size or 0)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def clock(when: dt.datetime, timezone: str | None) -> str | None:
    """The time of day somewhere, as a person says it: `3:40 pm`; None for an unknown zone."""
    try:
        local = when.astimezone(ZoneInfo(timezone or ""))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"

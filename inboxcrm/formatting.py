"""How numbers and times read on a page."""

from __future__ import annotations

import datetime as dt
import decimal

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

"""One row of an import file read as a lead, or refused with the reason: pure, no
database. What the database decides (the stage, the owner, an address taken) is the
plan's (`plan.py`)."""

from __future__ import annotations

import decimal
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inboxcrm.addresses import normalize_email
from inboxcrm.errors import Invalid
from inboxcrm.exchange.csvfile import MAX_CELL
from inboxcrm.exchange.mapping import FIELDS

# The lead's own columns a row may set, with their longest value (leads/schemas.py).
LENGTHS = {
    "name": 200,
    "title": 200,
    "phone": 40,
    "budget": 200,
    "authority": 200,
    "need": 500,
    "timeline": 200,
    "next_step": 300,
}
MAX_COMPANY, MAX_TAG, MAX_TAGS, MAX_EMAILS = 200, 60, 50, 20
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What a spreadsheet runs as a formula (OWASP's CSV injection list): `=`, `@`, and `+` or
# `-` before anything but a number (a phone number's `+44 20 7946 0958` is data).
_NUMBER = re.compile(r"[+-][\d\s().\-/]*")
_SPLIT = re.compile(r"[,;\s]+")
_TAG_SPLIT = re.compile(r"[,;|]")


@dataclass
class Row:
    number: int  # the file's line, as a spreadsheet numbers it
    emails: list[str]  # normalized, the first one primary
    values: dict[str, Any] = field(default_factory=dict)  # LENGTHS' fields, deal, currency
    company: str | None = None
    stage: str | None = None
    owner: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (column, value)


@dataclass(frozen=True)
class Refused:
    number: int
    reason: str
    email: str = ""


def looks_like_formula(cell: str) -> bool:
    text = cell.lstrip()
    if text.startswith(("=", "@")):
        return True
    return text.startswith(("+", "-")) and not _NUMBER.fullmatch(text)


def read_row(
    number: int, cells: Sequence[str], header: Sequence[str], fields: Sequence[str]
) -> Row | Refused:
    extra = [c for c in cells[len(header) :] if c.strip()]
    if extra:
        return Refused(number, f"the row has {len(cells)} cells; the header names {len(header)}")
    by_field: dict[str, list[tuple[str, str]]] = {}
    for column, name, raw in zip(header, fields, cells, strict=False):
        cell = raw.strip()
        if not cell or name == "ignore":
            continue
        if len(cell) > MAX_CELL:
            return Refused(number, f"{column} has more than {MAX_CELL:,} characters")
        if _CONTROL.search(cell):
            return Refused(number, f"{column} holds control characters")
        if name not in ("email", "other_emails") and looks_like_formula(cell):
            return Refused(number, f"{column} looks like a spreadsheet formula: {cell[:40]!r}")
        by_field.setdefault(name, []).append((column, cell))

    def first(name: str) -> str | None:
        return by_field[name][0][1] if name in by_field else None

    raw_emails = [a for _, cell in by_field.get("email", []) for a in _SPLIT.split(cell) if a]
    raw_emails += [
        a for _, cell in by_field.get("other_emails", []) for a in _SPLIT.split(cell) if a
    ]
    if not raw_emails:
        return Refused(number, "no email address")
    emails: list[str] = []
    for address in raw_emails:
        try:
            emails.append(normalize_email(address))
        except Invalid:
            return Refused(number, f"{address[:80]!r} is not an email address", address[:254])
    emails = list(dict.fromkeys(emails))
    if len(emails) > MAX_EMAILS:
        return Refused(number, f"more than {MAX_EMAILS} addresses", emails[0])
    row = Row(number, emails)
    name = first("name") or " ".join(p for p in (first("first_name"), first("last_name")) if p)
    if name:
        by_field["name"] = [("Name", name)]
    for key, longest in LENGTHS.items():
        value = first(key)
        if value is None:
            continue
        if len(value) > longest:
            return Refused(number, f"{FIELDS[key]} is longer than {longest} characters", emails[0])
        row.values[key] = value
    if (deal := first("deal_value")) is not None:
        try:
            row.values["deal_value"] = parse_amount(deal)
        except Invalid as exc:
            return Refused(number, exc.message, emails[0])
    if (currency := first("currency")) is not None:
        code = currency.upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            return Refused(
                number, f"currency {currency[:20]!r} is not a three-letter code", emails[0]
            )
        row.values["currency"] = code
    if (company := first("company")) is not None:
        if len(company) > MAX_COMPANY:
            return Refused(number, f"Company is longer than {MAX_COMPANY} characters", emails[0])
        row.company = company
    row.stage, row.owner = first("stage"), first("owner")
    tags = [
        " ".join(t.split()) for _, cell in by_field.get("tags", []) for t in _TAG_SPLIT.split(cell)
    ]
    row.tags = list(dict.fromkeys(t for t in tags if t))
    if any(len(t) > MAX_TAG for t in row.tags):
        return Refused(number, f"a tag is longer than {MAX_TAG} characters", emails[0])
    if len(row.tags) > MAX_TAGS:
        return Refused(number, f"more than {MAX_TAGS} tags", emails[0])
    row.notes = by_field.get("note", [])
    return row


def parse_amount(raw: str) -> decimal.Decimal:
    """`$1,234.50`, `1.234,50 €`, `1 234`: a deal value, 2 decimals, not negative."""
    digits = re.sub(r"[^\d.,\-]", "", raw)
    if "," in digits and "." in digits:  # the later one separates the decimals
        thousands = "," if digits.rfind(",") < digits.rfind(".") else "."
        digits = digits.replace(thousands, "").replace(",", ".")
    elif "," in digits:
        head, _, tail = digits.rpartition(",")
        digits = digits.replace(",", "") if len(tail) == 3 and head else digits.replace(",", ".")
    try:
        value = decimal.Decimal(digits)
    except decimal.InvalidOperation:
        raise Invalid(f"deal value {raw[:40]!r} is not an amount") from None
    if not value.is_finite() or value < 0 or value >= 10**12:
        raise Invalid(f"deal value {raw[:40]!r} is not an amount from 0 to 999,999,999,999")
    return value.quantize(decimal.Decimal("0.01"))

"""What clients may send to create or change a lead: the API and the forms share these."""

from __future__ import annotations

import decimal
import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
MAX_TAG = 60
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG)]

# The deal: who may change it is `Action.edit_deal` in accounts/permissions.py.
DEAL_FIELDS = frozenset({"deal_value", "currency", "lost_reason"})
DEAL_VALUE_HINT = "Deal value: a number such as 12000 or 12,000.50"
# Thousands grouped with commas or spaces, as a person types them: 12,000 / 1 250 000.50
GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?: \d{3})+(?:\.\d+)?")

# How each field is named to a person, for messages that say what to type.
LABELS = {
    "email": "Email", "other_emails": "Other addresses", "name": "Name",
    "company": "Company", "title": "Title", "phone": "Phone", "timezone": "Timezone",
    "owner_id": "Owner", "stage_id": "Stage", "deal_value": "Deal value",
    "currency": "Currency", "lost_reason": "Lost reason", "source": "Source",
    "budget": "Budget", "authority": "Authority", "need": "Need", "timeline": "Timeline",
    "next_step": "Next step", "tags": "Tags",
}  # fmt: skip


class LeadUpdate(BaseModel):
    """Every field optional; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email | None = None
    other_emails: list[Email] | None = Field(default=None, max_length=20)
    name: Text | None = None
    company: Text | None = None
    title: Text | None = None
    phone: ShortText | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    owner_id: int | None = None
    stage_id: int | None = None
    deal_value: decimal.Decimal | None = None
    currency: str | None = None
    lost_reason: Annotated[str, StringConstraints(max_length=300)] | None = None
    source: ShortText | None = None
    budget: Text | None = None
    authority: Text | None = None
    need: LongText | None = None
    timeline: Text | None = None
    next_step: Annotated[str, StringConstraints(max_length=300)] | None = None
    tags: list[TagName] | None = Field(default=None, max_length=50)

    @field_validator("deal_value", mode="before")
    @classmethod
    def _deal_value(cls, value: object) -> decimal.Decimal | None:
        """A number as a person types it: `12000`, `12,000.50`, `12 000`; at most two
        decimals, at least zero."""
        if value is None or isinstance(value, bool):
            if value is None:
                return None
            raise ValueError(DEAL_VALUE_HINT)
        if isinstance(value, str):
            text = value.strip().replace("\u00a0", " ")
            if not text:
                return None
            if GROUPED.fullmatch(text):
                text = text.replace(",", "").replace(" ", "")
            value = text
        try:
            number = decimal.Decimal(str(value) if isinstance(value, float) else value)  # type: ignore[arg-type]
        except (decimal.InvalidOperation, TypeError, ValueError):
            raise ValueError(DEAL_VALUE_HINT) from None
        if not number.is_finite():
            raise ValueError(DEAL_VALUE_HINT)
        if number < 0:
            raise ValueError("Deal value: zero or more, such as 12000")
        if number != number.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_DOWN):
            raise ValueError("Deal value: at most two decimals, such as 12,000.50")
        if number >= 10**12:
            raise ValueError("Deal value: less than 1,000,000,000,000")
        return number

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
            raise ValueError("Currency: three letters such as USD")
        return value.strip().upper()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(
                    f"Timezone: a place's zone such as Europe/Berlin or America/New_York, "
                    f"not {value!r}"
                ) from exc
        return value or None

    @field_validator("phone")
    @classmethod
    def _phone_characters(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[0-9+()./ x-]+", value):
            raise ValueError("Phone: digits, spaces and + ( ) - . / x, such as +44 20 7946 0958")
        return value or None

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        seen: dict[str, str] = {}
        for tag in value:
            seen.setdefault(" ".join(tag.split()).lower(), " ".join(tag.split()))
        return list(seen.values())


class LeadCreate(LeadUpdate):
    email: Email


class MergeRequest(BaseModel):
    """The lead to merge into the one in the URL; it is removed."""

    model_config = ConfigDict(extra="forbid")

    lead_id: StrictInt


def field_messages(exc: ValidationError) -> dict[str, str]:
    """What to fix, per field, in words a person reads: "Deal value: a number such as
    12000 or 12,000.50" rather than pydantic's "Decimal input should be ..."."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        name = loc[0] if loc else "form"
        message = str(error["msg"]).removeprefix("Value error, ")
        label = LABELS.get(name, name)
        if error["type"] == "extra_forbidden":
            message = f"{name}: not a field of a lead"
        elif error["type"] == "string_too_long":
            message = f"{label}: at most {error['ctx']['max_length']:,} characters"
        elif error["type"] == "string_too_short" and name == "email":
            message = "Email: an address such as ann@acme.com"
        elif error["type"] == "too_long":
            message = f"{label}: at most {error['ctx']['max_length']} of them"
        elif not message.startswith(label + ":"):
            message = f"{label}: {message[:1].lower()}{message[1:]}"
        fields.setdefault(name, message)
    return fields

"""What clients may send to create or change a lead: the API and the forms share these."""

from __future__ import annotations

import decimal
import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
MAX_TAG = 60
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG)]

# The deal: who may change it is `Action.edit_deal` in accounts/permissions.py.
DEAL_FIELDS = frozenset({"deal_value", "currency", "lost_reason"})


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
    deal_value: Annotated[decimal.Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = (
        None
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    lost_reason: Annotated[str, StringConstraints(max_length=300)] | None = None
    source: ShortText | None = None
    budget: Text | None = None
    authority: Text | None = None
    need: LongText | None = None
    timeline: Text | None = None
    next_step: Annotated[str, StringConstraints(max_length=300)] | None = None
    tags: list[TagName] | None = Field(default=None, max_length=50)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from exc
        return value or None

    @field_validator("phone")
    @classmethod
    def _phone_characters(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[0-9+()./ x-]+", value):
            raise ValueError("a phone number has digits, spaces and + ( ) - . / x only")
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

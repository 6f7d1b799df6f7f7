"""Which column of a file holds which field of a lead: guessed from the header as Excel,
Google Sheets, HubSpot and Pipedrive name their columns, then changed by the person."""

from __future__ import annotations

import re
from collections.abc import Sequence

from inboxcrm.errors import Invalid

# field -> how the page names it
FIELDS: dict[str, str] = {
    "email": "Email",
    "other_emails": "Other emails",
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "company": "Company",
    "title": "Title",
    "phone": "Phone",
    "stage": "Stage",
    "owner": "Owner (email or name)",
    "deal_value": "Deal value",
    "currency": "Currency",
    "tags": "Tags",
    "budget": "Budget",
    "authority": "Authority",
    "need": "Need",
    "timeline": "Timeline",
    "next_step": "Next step",
    "note": "A note",
    "ignore": "Leave out",
}
# Fields many columns may map to; every other one, at most one column.
MANY = frozenset({"other_emails", "tags", "note", "ignore"})

_WORDS: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "emailaddress",
        "mail",
        "workemail",
        "primaryemail",
        "emailwork",
        "businessemail",
        "contactemail",
    ),
    "other_emails": (
        "otheremails",
        "secondaryemail",
        "emailother",
        "emailhome",
        "additionalemailaddresses",
        "personalemail",
    ),
    "name": ("name", "fullname", "contactname", "personname", "contact"),
    "first_name": ("firstname", "givenname", "first", "forename"),
    "last_name": ("lastname", "surname", "familyname", "last"),
    "company": (
        "company",
        "companyname",
        "organization",
        "organisation",
        "organizationname",
        "organisationname",
        "account",
        "accountname",
        "associatedcompany",
    ),
    "title": ("title", "jobtitle", "position", "role", "jobrole"),
    "phone": (
        "phone",
        "phonenumber",
        "mobile",
        "mobilephone",
        "mobilephonenumber",
        "telephone",
        "tel",
        "phonework",
        "phonemobile",
        "workphone",
    ),
    "stage": ("stage", "lifecyclestage", "dealstage", "leadstatus", "status", "pipelinestage"),
    "owner": (
        "owner",
        "contactowner",
        "leadowner",
        "dealowner",
        "owneremail",
        "assignedto",
        "ownername",
        "hubspotowner",
        "salesowner",
    ),
    "deal_value": ("dealvalue", "value", "amount", "dealamount", "dealsize"),
    "currency": ("currency", "dealcurrency", "valuecurrency", "currencyofvalue"),
    "tags": ("tags", "tag", "labels", "label"),
    "budget": ("budget",),
    "authority": ("authority", "decisionmaker"),
    "need": ("need", "needs", "painpoint"),
    "timeline": ("timeline", "timeframe", "purchasetimeline"),
    "next_step": ("nextstep", "nextsteps", "nextaction"),
}
_KEYS = {word: field for field, words in _WORDS.items() for word in words}
_PREFIX = re.compile(r"^(person|contact|lead|deal|organi[sz]ation|company)\s*-\s*", re.I)


def _key(column: str) -> tuple[str, str]:
    """(prefix, key): Pipedrive's `Organization - Name` is ("organization", "name")."""
    prefix = ""
    found = _PREFIX.match(column.strip())
    if found:
        prefix = found.group(1).lower().replace("organis", "organiz")
        column = column[found.end() :]
    return prefix, re.sub(r"[^a-z0-9]", "", column.lower())


def _field(column: str) -> str:
    prefix, key = _key(column)
    if prefix in ("organization", "company"):
        return "company" if key in ("name", "", "company") else "note"
    if prefix == "deal" and key in ("title", "name"):
        return "note"  # a deal's title is not a person's job title
    return _KEYS.get(key, "note")


def guess(header: Sequence[str]) -> list[str]:
    """A field for every column: the first column that names a field takes it, the later
    ones become notes."""
    taken: set[str] = set()
    fields: list[str] = []
    for column in header:
        field = _field(column)
        if field not in MANY and field in taken:
            field = "note"
        taken.add(field)
        fields.append(field)
    return fields


def check(header: Sequence[str], fields: Sequence[str]) -> list[str]:
    """A mapping as sent: one known field per column, single fields once, an email column."""
    if len(fields) != len(header):
        raise Invalid(f"the mapping names {len(fields)} columns; the file has {len(header)}")
    seen: dict[str, str] = {}
    for column, field in zip(header, fields, strict=True):
        if field not in FIELDS:
            raise Invalid(f"unknown field {field!r} for column {column!r}", {column: "unknown"})
        if field not in MANY and field in seen:
            raise Invalid(
                f"columns {seen[field]!r} and {column!r} both map to {FIELDS[field]}; choose one",
                {column: "mapped twice"},
            )
        seen.setdefault(field, column)
    if "email" not in seen:
        raise Invalid("no column maps to Email: a lead is found and made by its address")
    return list(fields)

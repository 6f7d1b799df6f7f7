"""Who is on a message: address headers, bulk and automated mail, the people outside the team."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.header import decode_header
from email.utils import getaddresses
from functools import lru_cache
from typing import Protocol

from inboxcrm.addresses import domain_key, listed, normalize_email
from inboxcrm.errors import Invalid
from inboxcrm.mail.pickling import by_fields


@by_fields
@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox in a header: display name (decoded) and normalized email (lower case)."""

    name: str
    email: str

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]

    @property
    def local_part(self) -> str:
        return self.email.rsplit("@", 1)[0]


def decode_text(raw: bytes, charset: str | None) -> str:
    """Bytes to text that never raises: the declared charset, then UTF-8, then cp1252.

    Mail lies about its charset often enough (unknown names, Latin-1 declared as UTF-8)
    that a failed decode must degrade to replacement characters, never an exception.
    """
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return raw.decode(candidate.strip().strip('"').lower())
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("cp1252", errors="replace")


@lru_cache(maxsize=16384)
def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words (`=?UTF-8?Q?...?=`) and unfold the header."""
    value = value.replace("\r", "").replace("\n", "")
    if "=?" not in value:
        return value.strip()
    try:
        chunks = decode_header(value)
    except Exception:  # malformed encoded words: show them as they came
        return value.strip()
    out = []
    for chunk, charset in chunks:
        out.append(chunk if isinstance(chunk, str) else decode_text(chunk, charset))
    return "".join(out).strip()


_NORMALIZED: dict[str, str | None] = {}
_NORMALIZED_MAX = 65536


def _normalize(email: str) -> str | None:
    # email_validator costs tens of microseconds; the same people write again and again.
    # Normalizing is idempotent, so the result is remembered as its own key too: stored
    # addresses (already normalized) read back for free.
    try:
        return _NORMALIZED[email]
    except KeyError:
        pass
    try:
        result: str | None = normalize_email(email)
    except Invalid:
        result = None
    if len(_NORMALIZED) >= _NORMALIZED_MAX:
        _NORMALIZED.clear()
    _NORMALIZED[email] = result
    if result is not None:
        _NORMALIZED[result] = result
    return result


def remember_normalized(emails: Iterable[str]) -> None:
    """Addresses normalized elsewhere (parsed in another process): read back here from
    stored rows, they cost nothing to normalize again."""
    if len(_NORMALIZED) >= _NORMALIZED_MAX:
        _NORMALIZED.clear()
    for email in emails:
        _NORMALIZED[email] = email


_ADDR_SPEC = re.compile(r"[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")


def parse_addresses(value: str | None) -> list[Address]:
    """Every valid address of an address-list header, in order; invalid ones are left out.

    Display names may be encoded words (decoded after splitting, so an encoded comma does
    not split the list). When the stdlib parser gives up on a malformed entry (an
    unbalanced quote swallows the rest of the header), bare addresses are recovered from
    the raw text so that nobody on the message goes missing.
    """
    return list(_parse_addresses(value.replace("\r", "").replace("\n", " "))) if value else []


@lru_cache(maxsize=16384)
def _parse_addresses(value: str) -> tuple[Address, ...]:
    # A thread repeats the same To and Cc lines message after message.
    result: list[Address] = []
    seen: set[str] = set()
    broken = False
    # `Smith, Ann <ann@x>` with the name unquoted: the comma cut "Smith" off as an entry.
    cut_off = ""
    for name, addr in _split(value):
        if "=?" in addr:  # some mailers (Python's among them) encode IDN domains as words
            addr = decode_words(addr)
        email = _normalize(addr) if "@" in addr else None
        if email is None:
            broken = broken or bool(addr or name)
            cut_off = addr if addr and not name and "@" not in addr else ""
            continue
        if cut_off and name:
            name = f"{cut_off}, {name}"
        cut_off = ""
        if email not in seen:
            seen.add(email)
            result.append(Address(_clean_name(name, email), email))
    if broken:
        for match in _ADDR_SPEC.findall(value):
            email = _normalize(match)
            if email is not None and email not in seen:
                seen.add(email)
                result.append(Address("", email))
    return tuple(result)


# The everyday shapes: `a@b`, `Name <a@b>`, `"Last, First" <a@b>`. The stdlib parser is
# pure Python and most of the cost of a message; it still reads everything else.
_SIMPLE_ITEM = re.compile(
    r"""\s*(?:
        "(?P<quoted>[^"\\]*)"\s*<(?P<qaddr>[^<>\s"]+)>
      | (?P<name>[^",<>;:@()\\\[\]]*?)\s*<(?P<addr>[^<>\s"]+)>
      | (?P<bare>[^\s,<>"();:\\\[\]]+@[^\s,<>"();:\\\[\]]+)
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def _split(value: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    pos, end = 0, len(value)
    while pos < end:
        match = _SIMPLE_ITEM.match(value, pos)
        if match is None or match.end() == pos:
            return getaddresses([value])
        if match["bare"]:
            pairs.append(("", match["bare"]))
        elif match["qaddr"]:
            pairs.append((match["quoted"], match["qaddr"]))
        else:
            pairs.append((match["name"], match["addr"]))
        pos = match.end()
    return pairs


# Control characters (PostgreSQL text cannot hold NUL) and the bidi overrides and isolates
# that make a name display as something else.
_UNSAFE_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_NAME = 200  # longer than any person's name, and what a lead's name holds


def _clean_name(name: str, email: str) -> str:
    name = _UNSAFE_IN_NAMES.sub(" ", decode_words(name))
    name = " ".join(name.strip().strip("\"'").split())
    # "ann@x.com" <ann@x.com> carries no name.
    return "" if name.lower() == email else name[:MAX_NAME].rstrip()


# --- bulk and automated mail -------------------------------------------------------------

_AUTOMATED_LOCAL = re.compile(
    r"""^(
        mailer[-_.]?daemon | postmaster | mail[-_.]?delivery[-_.]?(subsystem|system)?
      | (no|do[-_.]?not|dont)[-_.]?reply(ies)?
      | bounces?([-_.=].*)? | .*[-_.]bounces?
      | msprvs\d?=.* | prvs=.*
    )$""",
    re.VERBOSE,
)


def is_automated_sender(address: Address) -> bool:
    """Daemons, postmasters, no-reply senders and bounce/VERP addresses: never people."""
    local = address.local_part.lower().split("+", 1)[0]
    return bool(_AUTOMATED_LOCAL.match(local))


# --- the people outside the team ---------------------------------------------------------


class Addressed(Protocol):
    """A message's people, as parse reads them (a ParsedMessage)."""

    @property
    def from_(self) -> Address | None: ...
    @property
    def to(self) -> Sequence[Address]: ...
    @property
    def cc(self) -> Sequence[Address]: ...


def external_participants(
    parsed: Addressed, team_domains: Iterable[str], team_addresses: Iterable[str]
) -> list[Address]:
    """From, To, Cc in header order, without the team (its domains and their subdomains,
    and its own addresses on other domains), each person once.

    Automated senders are kept: whether a daemon can be a lead is the caller's policy
    (see `is_automated_sender`). The first name seen wins; a later one fills an empty name.
    """
    domains = {domain_key(d) for d in team_domains}
    addresses = {a.strip().lower() for a in team_addresses}
    people: dict[str, Address] = {}
    everyone = ([parsed.from_] if parsed.from_ else []) + list(parsed.to) + list(parsed.cc)
    for addr in everyone:
        if listed(addr.email, addresses, domains):
            continue
        known = people.get(addr.email)
        if known is None or (not known.name and addr.name):
            people[addr.email] = addr
    return list(people.values())

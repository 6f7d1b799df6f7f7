"""The workspace blocklist: addresses and `@domain`s that never become leads.

A pattern is stored in the form it is compared in: an address normalized as every lead
address is, or `@` and an ASCII (IDNA 2008) domain; a domain covers its subdomains. Both
forms come from `inboxcrm.addresses`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from inboxcrm.addresses import (
    domain_key,
    listed,
    normalize_email,
    registrable_domain,
    unicode_domain,
)
from inboxcrm.errors import Invalid
from inboxcrm.leads.models import BlockedAddress
from inboxcrm.tenancy import Scope


def normalize_pattern(raw: str) -> str:
    """`Ann@Acme.com` -> `ann@acme.com`; `@Mail.Bücher.de` -> `@mail.xn--bcher-kva.de`.

    A bare domain (`acme.com`) is taken as `@acme.com`. A public suffix (`@co.uk`) is
    refused: it would block every company under it."""
    value = raw.strip()
    if not value:
        raise Invalid("enter an address or @domain", {"pattern": "required"})
    if "@" in value and not value.startswith("@"):
        return normalize_email(value)  # raises Invalid naming the email
    domain = value.lstrip("@").strip().rstrip(".").lower()
    try:
        normalize_email(f"x@{domain}")
    except Invalid:
        raise Invalid(
            f"{value!r} is not a domain", {"pattern": "not an address or @domain"}
        ) from None
    key = domain_key(domain)
    if registrable_domain(key) is None:
        raise Invalid(
            f"{domain} is a public suffix: blocking it would block every company under it",
            {"pattern": "a public suffix such as co.uk cannot be blocked"},
        )
    return "@" + key


def display_pattern(pattern: str) -> str:
    """Domains as people write them (`@bücher.de`), for pages."""
    return "@" + unicode_domain(pattern[1:]) if pattern.startswith("@") else pattern


@dataclass(frozen=True)
class Blocklist:
    addresses: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> Blocklist:
        addresses, domains = set(), set()
        for pattern in patterns:
            if pattern.startswith("@"):
                domains.add(pattern[1:])
            else:
                addresses.add(pattern)
        return cls(frozenset(addresses), frozenset(domains))

    @classmethod
    def load(cls, scope: Scope) -> Blocklist:
        return cls.of(
            scope.session.scalars(
                select(BlockedAddress.pattern).where(
                    BlockedAddress.workspace_id == scope.workspace_id
                )
            )
        )

    def blocks(self, email: str) -> bool:
        return listed(email, self.addresses, self.domains)

    def __bool__(self) -> bool:
        return bool(self.addresses or self.domains)


def list_blocks(scope: Scope) -> list[BlockedAddress]:
    return list(
        scope.session.scalars(scope.select(BlockedAddress).order_by(BlockedAddress.pattern))
    )

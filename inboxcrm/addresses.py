"""Email address and domain normalization, written once: addresses as we store and match
them, domains to ASCII and back (IDNA 2008 with UTS 46, as email_validator does) and the
domain that names a company."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache, lru_cache

import idna
from email_validator import EmailNotValidError, validate_email
from publicsuffixlist import PublicSuffixList

from inboxcrm.errors import Invalid

# The everyday address: a dot-atom local part at an ASCII domain with a letters-only top
# level domain, no punycode and no `--`. For these email_validator's answer is the address
# in lower case (tests/leads/test_addresses.py holds the two to that); asking it costs a
# few hundred microseconds, which is most of a synced message's parse.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_EMAIL = re.compile(
    rf"(?!.*--)(?P<local>{_ATOM}(?:\.{_ATOM})*)@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,63})"
)
_SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def _plain(candidate: str) -> str | None:
    lowered = candidate.lower()
    match = _PLAIN_EMAIL.fullmatch(lowered)
    if match is None or len(lowered) > 254 or len(match["local"]) > 64:
        return None
    return None if match["tld"] in _SPECIAL_USE else lowered


def normalize_email(raw: str) -> str:
    """The one form we store and match on: IDNA-checked domain, all lower case.

    Local parts are case-sensitive in theory; no mail system we sync from treats them so,
    and matching `Ann@X.com` with `ann@x.com` is what a CRM user expects.
    """
    candidate = raw.strip()
    if candidate.endswith(".") and not candidate.endswith(".."):
        candidate = candidate[:-1]  # `ann@acme.com.`: a fully qualified domain, the same one
    plain = _plain(candidate)
    if plain is not None:
        return plain
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise Invalid(f"invalid email address {raw!r}: {exc}", {"email": str(exc)}) from exc
    return result.normalized.lower()


@cache
def _suffixes() -> PublicSuffixList:
    # publicsuffixlist ships the list in the package: nothing is downloaded at run time.
    return PublicSuffixList()


MAX_DOMAIN = 253  # characters of a domain in ASCII, without the final dot (RFC 1035)
MAX_LABEL = 63  # characters of one label

# Letters, digits and hyphens, no punycode label: nothing for IDNA to check or convert.
_PLAIN_DOMAIN = re.compile(r"(?!.*(?:^|\.)xn--)[a-z0-9-]+(?:\.[a-z0-9-]+)*\Z", re.IGNORECASE)


@lru_cache(maxsize=16384)
def ascii_domain(domain: str) -> str | None:
    """A domain in ASCII (`bücher.de` -> `xn--bcher-kva.de`), lower case; None if invalid.

    IDNA 2008 with UTS 46 mapping, as email_validator does: Python's own "idna" codec is
    IDNA 2003, which turns `straße.de` into `strasse.de`, another domain (and company).
    """
    domain = domain.strip().rstrip(".")
    if not domain:
        return None
    if _PLAIN_DOMAIN.match(domain):
        if len(domain) > MAX_DOMAIN or any(len(label) > MAX_LABEL for label in domain.split(".")):
            return None  # what IDNA refuses as too long, refused the same way
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except UnicodeError:  # idna.IDNAError is one
        return None


@lru_cache(maxsize=65536)
def domain_key(email_or_domain: str) -> str:
    """The domain of an address (or a domain, `@` or not) as domains compare: ASCII, lower
    case (`Ann@Straße.de` -> `xn--strae-oqa.de`); a domain IDNA refuses, lower-cased."""
    domain = email_or_domain.rsplit("@", 1)[-1]
    return ascii_domain(domain) or domain.strip().rstrip(".").lower()


def unicode_domain(domain: str) -> str:
    """An ASCII domain as people write it (`xn--bcher-kva.de` -> `bücher.de`), for pages
    and names; a label IDNA cannot decode stays as it is."""
    return ".".join(_unicode_label(label) for label in domain.split("."))


def _unicode_label(label: str) -> str:
    if not label.lower().startswith("xn--"):
        return label  # nothing to decode
    try:
        return idna.decode(label)
    except UnicodeError:  # idna.IDNAError is one
        return label


def _covered(domain: str, domains: Collection[str]) -> bool:
    """`domain` is one of `domains` or a subdomain of one (`mail.acme.com` by `acme.com`)."""
    if not domains:
        return False
    while True:
        if domain in domains:
            return True
        dot = domain.find(".")
        if dot < 0:
            return False
        domain = domain[dot + 1 :]


def listed(email: str, addresses: Collection[str], domains: Collection[str]) -> bool:
    """A normalized address is one of `addresses`, or at one of `domains` (ASCII, as
    `domain_key` gives them) or a subdomain of one."""
    return email in addresses or _covered(domain_key(email), domains)


def registrable_domain(domain_or_email: str) -> str | None:
    """`mail.acme.co.uk` -> `acme.co.uk`; None for a bare public suffix such as `co.uk`."""
    domain = ascii_domain(domain_or_email.rsplit("@", 1)[-1])
    if domain is None:
        return None
    result = _suffixes().privatesuffix(domain)
    return result if isinstance(result, str) else None


def public_suffix(domain: str) -> str | None:
    """The public suffix of an ASCII domain (`acme.co.uk` -> `co.uk`), per the list."""
    result = _suffixes().publicsuffix(domain)
    return result if isinstance(result, str) else None


# Consumer mail providers: their domains say nothing about a company.
FREE_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk ymail.com outlook.com hotmail.com live.com
    msn.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me gmx.com gmx.de
    gmx.net web.de yandex.ru yandex.com mail.ru qq.com 163.com 126.com zoho.com fastmail.com
    hey.com tutanota.com orange.fr free.fr laposte.net libero.it t-online.de comcast.net
    """.split()
)


def company_domain(email: str) -> str | None:
    """The registrable domain of an address, unless it is a free-mail provider's."""
    domain = registrable_domain(email)
    return None if domain is None or domain in FREE_MAIL_DOMAINS else domain

"""Email address and domain normalization."""

from __future__ import annotations

from functools import cache

from email_validator import EmailNotValidError, validate_email
from publicsuffixlist import PublicSuffixList

from inboxcrm.errors import Invalid


def normalize_email(raw: str) -> str:
    """The one form we store and match on: IDNA-checked domain, all lower case.

    Local parts are case-sensitive in theory; no mail system we sync from treats them so,
    and matching `Ann@X.com` with `ann@x.com` is what a CRM user expects.
    """
    try:
        result = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise Invalid(f"invalid email address {raw!r}: {exc}", {"email": str(exc)}) from exc
    return result.normalized.lower()


@cache
def _suffixes() -> PublicSuffixList:
    # publicsuffixlist ships the list in the package: nothing is downloaded at run time.
    return PublicSuffixList()


def registrable_domain(domain_or_email: str) -> str | None:
    """`mail.acme.co.uk` -> `acme.co.uk`; None for a bare public suffix such as `co.uk`."""
    domain = domain_or_email.rsplit("@", 1)[-1].strip().rstrip(".").lower()
    if not domain:
        return None
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    result = _suffixes().privatesuffix(domain)
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

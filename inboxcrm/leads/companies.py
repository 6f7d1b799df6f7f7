"""Companies: their domains, their leads and the team's recent conversations with them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Select, func, or_, select

from inboxcrm.addresses import (
    FREE_MAIL_DOMAINS,
    MAX_DOMAIN,
    MAX_LABEL,
    ascii_domain,
    public_suffix,
    registrable_domain,
    unicode_domain,
)
from inboxcrm.errors import Conflict, Invalid, NotFound
from inboxcrm.leads.models import Company, CompanyDomain, Lead, LeadEmail
from inboxcrm.leads.service import refresh_search_text
from inboxcrm.leads.timeline import TimelinePage, timeline
from inboxcrm.mail.privacy import MailAccess
from inboxcrm.tenancy import Scope

SHOWN_LEADS = 100
SHOWN_CONVERSATIONS = 15


@dataclass
class CompanyPage:
    company: Company
    leads: list[Lead]
    lead_count: int
    conversations: TimelinePage
    lead_names: dict[int, str]  # every lead a conversation names, shown or not


def lead_ids(scope: Scope, company: Company) -> Select[tuple[int]]:
    return select(Lead.id).where(
        Lead.workspace_id == scope.workspace_id, Lead.company_id == company.id
    )


def company_leads(scope: Scope, company: Company, limit: int = SHOWN_LEADS) -> list[Lead]:
    """The company's leads, most recently contacted first."""
    return list(
        scope.session.scalars(
            scope.select(Lead, Lead.company_id == company.id)
            .order_by(Lead.last_contacted_at.desc().nulls_last(), Lead.id.desc())
            .limit(limit)
        ).unique()
    )


def lead_count(scope: Scope, company: Company) -> int:
    count = scope.session.scalar(
        select(func.count()).select_from(lead_ids(scope, company).subquery())
    )
    return count or 0


def company_page(scope: Scope, access: MailAccess, company: Company) -> CompanyPage:
    conversations = timeline(scope, access, lead_ids(scope, company), per_page=SHOWN_CONVERSATIONS)
    named = set().union(*(c.lead_ids for c in conversations.conversations))
    names = scope.session.execute(
        select(Lead.id, Lead.name, Lead.email).where(
            Lead.workspace_id == scope.workspace_id, Lead.id.in_(named)
        )
    )
    return CompanyPage(
        company=company,
        leads=company_leads(scope, company),
        lead_count=lead_count(scope, company),
        conversations=conversations,
        lead_names={i: name or email for i, name, email in names},
    )


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _punycode(label: str) -> str:
    """A label's ASCII form as far as length goes, where IDNA refuses it (too long, say)."""
    try:
        return "xn--" + label.encode("punycode").decode("ascii")
    except UnicodeError:
        return label


_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")


def _check_labels(text: str, raw: str) -> None:
    """A domain's limits (RFC 1035), counted in ASCII as DNS counts them: at most 253
    characters in all, each label between the dots 1 to 63 letters, digits or hyphens,
    neither first nor last a hyphen."""
    ascii_labels = []
    for label in text.split("."):
        if not label:
            raise Invalid(
                f"{_shown(raw.strip())!r} is not a domain: it has an empty part between dots",
                {"domain": "empty label"},
            )
        ascii_label = label if label.isascii() else (ascii_domain(label) or _punycode(label))
        if len(ascii_label) > MAX_LABEL:
            raise Invalid(
                f"{_shown(label)!r} is too long for a part of a domain: {len(ascii_label)}"
                f" characters, at most {MAX_LABEL} between dots",
                {"domain": "label too long"},
            )
        if not _LDH_LABEL.match(ascii_label):
            raise Invalid(
                f"{_shown(label)!r} cannot be part of a domain: letters, digits and hyphens"
                " only, not starting or ending with a hyphen",
                {"domain": "invalid label"},
            )
        ascii_labels.append(ascii_label)
    length = len(".".join(ascii_labels))
    if length > MAX_DOMAIN:
        raise Invalid(
            f"{_shown(raw.strip())!r} is too long for a domain: {length} characters,"
            f" at most {MAX_DOMAIN}",
            {"domain": "too long"},
        )


def parse_domain(raw: str) -> str:
    """`Mail.Acme.co.uk`, `@acme.co.uk` or `https://www.acme.co.uk/about` -> `acme.co.uk`,
    in ASCII (`münchen.de` -> `xn--mnchen-3ya.de`, shown as `unicode_domain` gives it back).

    Refused, saying why: a domain too long or with a label too long, a public suffix
    (`co.uk`, per the public suffix list) and free mail providers."""
    text = raw.strip().lower().lstrip("@")
    if "//" in text:
        try:
            text = urlsplit(text).hostname or ""
        except ValueError:  # a malformed URL, e.g. an unclosed [
            text = ""
    text = text.split("/", 1)[0].rstrip(".")
    not_a_domain = Invalid(
        f"{_shown(raw.strip())!r} is not a domain such as acme.com", {"domain": "invalid"}
    )
    if not text or "@" in text or any(c.isspace() for c in text):
        raise not_a_domain
    _check_labels(text, raw)
    if "." not in text:
        raise not_a_domain
    domain = registrable_domain(text)
    if domain is None:
        ascii_text = ascii_domain(text)
        if ascii_text and ascii_text == public_suffix(ascii_text):
            raise Invalid(
                f"{unicode_domain(ascii_text)!r} is not a domain such as acme.com but a public"
                " suffix, under which anyone registers: enter the company's own domain",
                {"domain": "public suffix"},
            )
        raise not_a_domain
    if "." not in domain:
        raise not_a_domain
    if domain in FREE_MAIL_DOMAINS:
        raise Invalid(
            f"{unicode_domain(domain)} is a free mail provider: its people are not one company",
            {"domain": "free mail provider"},
        )
    return domain


def add_domain(scope: Scope, company: Company, raw: str, now: dt.datetime) -> CompanyDomain:
    """Give the company another domain; its leads without a company join it."""
    domain = parse_domain(raw)
    owner = scope.session.scalars(
        scope.select(CompanyDomain, CompanyDomain.domain == domain)
    ).first()
    if owner is not None:
        shown = unicode_domain(domain)
        if owner.company_id == company.id:
            raise Conflict(f"{shown} is already a domain of {company.name}")
        raise Conflict(
            f"{shown} belongs to {owner.company.name}; remove it there first",
            {"domain": "taken"},
        )
    row = CompanyDomain(workspace_id=scope.workspace_id, domain=domain)
    company.domains.append(row)
    literal = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    at_domain = select(LeadEmail.lead_id).where(
        LeadEmail.workspace_id == scope.workspace_id,
        or_(
            LeadEmail.email.like(f"%@{literal}", escape="\\"),
            LeadEmail.email.like(f"%.{literal}", escape="\\"),  # subdomains
        ),
    )
    for lead in scope.session.scalars(
        scope.select(Lead, Lead.company_id.is_(None), Lead.id.in_(at_domain))
    ).unique():
        lead.company = company
        lead.updated_at = now
        refresh_search_text(lead)
    scope.session.flush()
    return row


def remove_domain(scope: Scope, company: Company, domain_id: int) -> str:
    """Forget one domain; the company's leads stay with it."""
    row = scope.find(CompanyDomain, domain_id)
    if row is None or row.company_id != company.id:
        raise NotFound(f"domain {domain_id} not found")
    company.domains.remove(row)
    scope.session.flush()
    return row.domain

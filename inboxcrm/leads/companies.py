"""Companies: their domains, their leads and the team's recent conversations with them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Select, func, or_, select

from inboxcrm.addresses import FREE_MAIL_DOMAINS, registrable_domain
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


def parse_domain(raw: str) -> str:
    """`Mail.Acme.co.uk`, `@acme.co.uk` or `https://www.acme.co.uk/about` -> `acme.co.uk`."""
    text = raw.strip().lower().lstrip("@")
    if "//" in text:
        text = urlsplit(text).hostname or ""
    text = text.split("/", 1)[0].rstrip(".")
    domain = registrable_domain(text) if text and "@" not in text and " " not in text else None
    if domain is None or "." not in domain:
        raise Invalid(f"{raw.strip()!r} is not a domain such as acme.com", {"domain": "invalid"})
    if domain in FREE_MAIL_DOMAINS:
        raise Invalid(
            f"{domain} is a free mail provider: its people are not one company",
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
        if owner.company_id == company.id:
            raise Conflict(f"{domain} is already a domain of {company.name}")
        raise Conflict(
            f"{domain} belongs to {owner.company.name}; remove it there first",
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

"""The merge values of a lead, its company and the sender: plain text, read from the rows
once, so a template never sees an ORM object (or anything it could reach from one)."""

from __future__ import annotations

from typing import Any

from inboxcrm.accounts.models import Member
from inboxcrm.campaigns.render import Fields, merge_context
from inboxcrm.leads.models import Lead


def lead_values(lead: Lead) -> dict[str, Any]:
    first, _, last = (lead.name or "").strip().partition(" ")
    owner = lead.owner
    return {
        "first_name": first,
        "last_name": last.strip(),
        "name": lead.name,
        "email": lead.email,
        "title": lead.title,
        "phone": lead.phone,
        "timezone": lead.timezone,
        "source": lead.source,
        "stage": lead.stage.name,
        "deal_value": None if lead.deal_value is None else f"{lead.deal_value:,.2f}",
        "currency": lead.currency,
        "budget": lead.budget,
        "authority": lead.authority,
        "need": lead.need,
        "timeline": lead.timeline,
        "owner_name": (owner.name or owner.email) if owner else None,
    }


def company_values(lead: Lead) -> dict[str, Any]:
    company = lead.company
    if company is None:
        return {}
    return {
        "name": company.name,
        "domain": company.domains[0].domain if company.domains else None,
        "website": company.website,
        "industry": company.industry,
        "size": company.size,
    }


def sender_values(sender: Member) -> dict[str, Any]:
    name = sender.name or ""
    return {"name": name, "first_name": name.split(" ")[0] if name else None, "email": sender.email}


def context_for(lead: Lead, sender: Member) -> dict[str, Fields]:
    return merge_context(lead_values(lead), company_values(lead), sender_values(sender))

"""GET /api/v1/companies/<id>: a company with its domains and leads."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from inboxcrm.leads.companies import company_leads, lead_count
from inboxcrm.leads.models import Company
from inboxcrm.web import scope

bp = Blueprint("companies", __name__)  # companies, under /api/v1


@bp.get("/companies/<int:company_id>")
def company(company_id: int) -> dict[str, Any]:
    s = scope()
    found = s.get(Company, company_id)
    leads = company_leads(s, found)
    return {
        "id": found.id,
        "name": found.name,
        "website": found.website,
        "industry": found.industry,
        "size": found.size,
        "domains": [d.domain for d in found.domains],
        "lead_count": lead_count(s, found),
        # The most recently contacted; /api/v1/leads lists them all.
        "leads": [
            {
                "id": lead.id,
                "name": lead.name,
                "email": lead.email,
                "stage": {
                    "id": lead.stage.id,
                    "name": lead.stage.name,
                    "kind": lead.stage.kind.value,
                },
                "owner": (
                    {"id": lead.owner.id, "email": lead.owner.email, "name": lead.owner.name}
                    if lead.owner
                    else None
                ),
                "last_contacted_at": (
                    lead.last_contacted_at.isoformat() if lead.last_contacted_at else None
                ),
            }
            for lead in leads
        ],
    }

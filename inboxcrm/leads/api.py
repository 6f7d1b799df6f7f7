from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.leads.capture.backfill import link_existing_mail
from inboxcrm.leads.merge import merge_leads
from inboxcrm.leads.models import Lead
from inboxcrm.leads.params import parse_filter
from inboxcrm.leads.schemas import LeadCreate, LeadUpdate, MergeRequest
from inboxcrm.leads.serialize import lead_json
from inboxcrm.leads.service import create_lead, list_leads, update_lead
from inboxcrm.web import db_session, member, scope

bp = Blueprint("leads", __name__)  # the leads, under /api/v1


@bp.get("/leads")
def leads() -> dict[str, Any]:
    page = list_leads(scope(), parse_filter(request.args, member()), last_if_past_end=True)
    return {
        "leads": [lead_json(lead) for lead in page.leads],
        "page": page.filter.page,
        "per_page": page.filter.per_page,
        "pages": page.pages,
        "total": page.total,
        "total_exact": page.exact,
    }


@bp.get("/leads/<int:lead_id>")
def lead(lead_id: int) -> dict[str, Any]:
    return lead_json(scope().get(Lead, lead_id))


@bp.post("/leads")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    data = LeadCreate.model_validate(json_object())
    created = create_lead(scope(), data, member(), utcnow())
    link_existing_mail(db_session(), created.workspace_id, [created.id], utcnow())  # its threads
    db_session().commit()
    return lead_json(created), 201, {"Location": url_for("api.leads.lead", lead_id=created.id)}


@bp.patch("/leads/<int:lead_id>")
def update(lead_id: int) -> dict[str, Any] | Response:
    found = scope().get(Lead, lead_id)
    data = LeadUpdate.model_validate(json_object())
    update_lead(scope(), found, data, member(), utcnow())
    if data.email is not None or data.other_emails is not None:  # a new address: its mail
        link_existing_mail(db_session(), found.workspace_id, [found.id], utcnow())
    db_session().commit()
    return lead_json(found)


@bp.post("/leads/<int:lead_id>/merge")
def merge(lead_id: int) -> dict[str, Any]:
    """Merge the lead in the body into this one: 404 for an unknown lead, 409 for itself."""
    keep = scope().get(Lead, lead_id)
    data = MergeRequest.model_validate(json_object())
    merge_leads(scope(), keep, scope().get(Lead, data.lead_id), member(), utcnow())
    db_session().commit()
    return lead_json(keep)

"""The leads table's filter as a segment filter: "Save as segment" starts the builder with it."""

from __future__ import annotations

from typing import Any

from inboxcrm.leads.service import LeadFilter


def from_lead_filter(flt: LeadFilter) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if flt.q.strip():
        items.append({"field": "search", "op": "contains", "value": flt.q.strip()})
    if flt.stage_id is not None:
        items.append({"field": "stage", "op": "is", "value": flt.stage_id})
    if flt.unowned:
        items.append({"field": "owner", "op": "is_empty"})
    elif flt.owner_id is not None:
        items.append({"field": "owner", "op": "is", "value": flt.owner_id})
    if flt.temperature is not None:
        items.append({"field": "temperature", "op": "is", "value": flt.temperature.value})
    if flt.tag:
        items.append({"field": "tag", "op": "has", "value": flt.tag})
    if flt.needs_review:
        items.append({"field": "needs_review", "op": "is_true"})
    return {"and": items}

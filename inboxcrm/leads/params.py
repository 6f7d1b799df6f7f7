"""Query-string parameters of the leads table and the leads API, parsed one way for both."""

from __future__ import annotations

from collections.abc import Mapping

from inboxcrm.accounts.models import Member
from inboxcrm.errors import BadRequest, DomainError
from inboxcrm.leads.models import Temperature
from inboxcrm.leads.service import DEFAULT_SORT, LeadFilter


def _int(args: Mapping[str, str], name: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw!r}") from None


def parse_filter(args: Mapping[str, str], me: Member, *, owner_default: str = "any") -> LeadFilter:
    """`owner` is `me`, `none`, `any` or a member id."""
    owner = (args.get("owner") or owner_default).strip()
    owner_id: int | None = None
    if owner == "me":
        owner_id = me.id
    elif owner not in ("any", "none"):
        owner_id = _int(args, "owner")
    temperature = (args.get("temperature") or "").strip()
    if temperature and temperature not in Temperature.__members__:
        raise BadRequest(f"temperature must be one of {', '.join(Temperature)}")
    page = _int(args, "page")
    per_page = _int(args, "per_page")
    try:
        return LeadFilter(
            q=(args.get("q") or "").strip()[:200],
            stage_id=_int(args, "stage"),
            owner_id=owner_id,
            unowned=owner == "none",
            temperature=Temperature(temperature) if temperature else None,
            tag=(args.get("tag") or "").strip() or None,
            needs_review=(args.get("review") or "").strip().lower() in ("1", "true", "yes", "on"),
            sort=(args.get("sort") or DEFAULT_SORT).strip(),
            page=1 if page is None else page,
            per_page=50 if per_page is None else per_page,
        )
    except DomainError as exc:
        raise BadRequest(exc.message) from None

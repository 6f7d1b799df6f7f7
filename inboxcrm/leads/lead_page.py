"""What the lead page shows, gathered in one place for the page and for its forms'
error re-renders: the lead, its timeline page, notes and stage history, and the panels of
the domains above leads (scoring, the outbox ...), which `inboxcrm.setup.lead_panels`
lists and the app keeps in `app.extensions["inboxcrm.lead_panels"]`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from markupsafe import Markup

from inboxcrm.accounts.models import Member
from inboxcrm.db import utcnow
from inboxcrm.formatting import clock
from inboxcrm.leads.history import stage_history
from inboxcrm.leads.models import Lead
from inboxcrm.leads.notes import authors, notes_of
from inboxcrm.leads.timeline import (
    ContactTimes,
    Cursor,
    hidden_conversations,
    timeline,
    visible_contact_times,
)
from inboxcrm.mail.privacy import MailAccess
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope

# A domain's part of the lead page: its HTML for the lead, or None for nothing.
LeadPanel = Callable[[Lead], Markup | None]
PANELS = "inboxcrm.lead_panels"  # the app extension holding the tuple, in page order


def panels(lead: Lead) -> list[Markup]:
    shown: tuple[LeadPanel, ...] = current_app.extensions.get(PANELS, ())
    return [html for html in (panel(lead) for panel in shown) if html is not None]


def contact_card(scope: Scope, lead: Lead) -> dict[str, Any]:
    """What the contact card's edit controls offer: the stages, the members still on the
    team, and the lead's own time of day ("3:40 pm for them")."""
    members = scope.select(Member, Member.removed_at.is_(None)).order_by(Member.name, Member.email)
    return {
        "lead": lead,
        "stages": list_stages(scope),
        "members": list(scope.session.scalars(members)),
        "lead_time": clock(utcnow(), lead.timezone) if lead.timezone else None,
    }


def lead_page(scope: Scope, viewer: Member, lead: Lead, older: Cursor | None) -> dict[str, Any]:
    access = MailAccess.of(scope.session, viewer)
    notes = notes_of(scope, lead)
    hidden = hidden_conversations(scope, access, [lead.id])
    times = (
        visible_contact_times(scope, access, lead.id)  # none of the hidden mail's times
        if hidden
        else ContactTimes(lead.first_inbound_at, lead.first_response_at, lead.last_contacted_at)
    )
    first_response = (
        times.first_response_at - times.first_inbound_at
        if times.first_response_at and times.first_inbound_at
        else None
    )
    return {
        "lead": lead,
        "changes": stage_history(scope, lead.id),
        "timeline": timeline(scope, access, [lead.id], older),
        "older": older,
        "notes": notes,
        "note_authors": authors(scope.session, notes),
        "tz": viewer.timezone,
        "first_response": first_response,
        "times": times,
        "hidden": hidden,
        "panels": panels(lead),
        **contact_card(scope, lead),
    }

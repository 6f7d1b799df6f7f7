"""Every domain's tables, imported once so the metadata (and Alembic) sees them all."""

from inboxcrm.accounts.models import (
    ApiToken,
    Invite,
    LoginSession,
    Mailbox,
    Member,
    Workspace,
)
from inboxcrm.campaigns.models import EmailTemplate, TemplateVersion
from inboxcrm.leads.models import (
    Activity,
    BlockedAddress,
    Company,
    CompanyDomain,
    Lead,
    LeadEmail,
    Note,
    Tag,
    ThreadLead,
)
from inboxcrm.mail.models import Message, Thread
from inboxcrm.runtime import JobRun
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.segments.models import Segment
from inboxcrm.stages.models import Stage, StageChange

__all__ = [
    "Activity",
    "ApiToken",
    "BlockedAddress",
    "Company",
    "CompanyDomain",
    "EmailTemplate",
    "Invite",
    "JobRun",
    "Lead",
    "LeadEmail",
    "LoginSession",
    "Mailbox",
    "Member",
    "Message",
    "Note",
    "ScoreEvent",
    "Segment",
    "Stage",
    "StageChange",
    "Tag",
    "TemperatureChange",
    "TemplateVersion",
    "Thread",
    "ThreadLead",
    "Workspace",
]

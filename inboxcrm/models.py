"""Every domain's tables, imported once so the metadata (and Alembic) sees them all."""

from inboxcrm.accounts.models import ApiToken, Invite, Mailbox, Member, Workspace
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
from inboxcrm.mailbox.models import Message, Thread
from inboxcrm.pipeline.models import Stage, StageChange
from inboxcrm.scheduler import JobRun

__all__ = [
    "Activity",
    "ApiToken",
    "BlockedAddress",
    "Company",
    "CompanyDomain",
    "Invite",
    "JobRun",
    "Lead",
    "LeadEmail",
    "Mailbox",
    "Member",
    "Message",
    "Note",
    "Stage",
    "StageChange",
    "Tag",
    "Thread",
    "ThreadLead",
    "Workspace",
]

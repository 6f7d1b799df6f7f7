"""Every domain's tables, imported once so the metadata (and Alembic) sees them all."""

from inboxcrm.accounts.models import (
    ApiToken,
    Invite,
    LoginSession,
    Mailbox,
    Member,
    Workspace,
)
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
from inboxcrm.outbox.models import MailboxSending, Send
from inboxcrm.runtime import JobRun
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.stages.models import Stage, StageChange

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
    "LoginSession",
    "Mailbox",
    "MailboxSending",
    "Member",
    "Message",
    "Note",
    "ScoreEvent",
    "Send",
    "Stage",
    "StageChange",
    "Tag",
    "TemperatureChange",
    "Thread",
    "ThreadLead",
    "Workspace",
]

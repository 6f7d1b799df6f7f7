"""Every domain's tables, imported once so the metadata (and Alembic) sees them all."""

from inboxcrm.accounts.models import (
    ApiToken,
    Invite,
    LoginSession,
    Mailbox,
    Member,
    Workspace,
)
from inboxcrm.campaigns.models import Campaign, EmailTemplate, TemplateVersion
from inboxcrm.labels.models import StageLabel
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
from inboxcrm.notifications.models import Notification
from inboxcrm.outbox.models import MailboxSending, OutboxSettings, Send, Suppression, TrackingHit
from inboxcrm.runtime import JobRun
from inboxcrm.scoring.actions.models import ActionSettings, InboundWait
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.segments.models import Segment
from inboxcrm.stages.models import Stage, StageChange

__all__ = [
    "ActionSettings",
    "Activity",
    "ApiToken",
    "BlockedAddress",
    "Campaign",
    "Company",
    "CompanyDomain",
    "EmailTemplate",
    "InboundWait",
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
    "Notification",
    "OutboxSettings",
    "ScoreEvent",
    "Segment",
    "Send",
    "Stage",
    "StageChange",
    "StageLabel",
    "Suppression",
    "Tag",
    "TemperatureChange",
    "TemplateVersion",
    "Thread",
    "ThreadLead",
    "TrackingHit",
    "Workspace",
]

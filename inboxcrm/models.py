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
from inboxcrm.events import Event
from inboxcrm.exchange.models import ImportedLead, LeadImport
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
from inboxcrm.pipeline.models import StageTally
from inboxcrm.runtime import JobRun
from inboxcrm.scoring.actions.models import ActionSettings, InboundWait
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.segments.models import Segment
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentEvent,
    Reengagement,
    Sequence,
    Step,
    Task,
    Trigger,
)
from inboxcrm.stages.models import Stage, StageChange
from inboxcrm.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ActionSettings",
    "Activity",
    "ApiToken",
    "BlockedAddress",
    "Campaign",
    "Company",
    "CompanyDomain",
    "EmailTemplate",
    "Enrollment",
    "EnrollmentEvent",
    "Event",
    "ImportedLead",
    "InboundWait",
    "Invite",
    "JobRun",
    "Lead",
    "LeadEmail",
    "LeadImport",
    "LoginSession",
    "Mailbox",
    "MailboxSending",
    "Member",
    "Message",
    "Note",
    "Notification",
    "OutboxSettings",
    "Reengagement",
    "ScoreEvent",
    "Segment",
    "Send",
    "Sequence",
    "Stage",
    "StageChange",
    "StageLabel",
    "StageTally",
    "Step",
    "Suppression",
    "Tag",
    "Task",
    "TemperatureChange",
    "TemplateVersion",
    "Thread",
    "ThreadLead",
    "TrackingHit",
    "Trigger",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Workspace",
]

"""Who becomes a lead: a workspace's capture rules, the people they pick from a batch of
threads, and the admins' change of those settings.

Who becomes a lead (the workspace's `lead_policy`):
- `conversations`: the external recipients of the team's messages; the senders of
  threads the team wrote in; whoever writes to one of the workspace's lead inboxes.
- `all_mail`: every external sender and recipient.
- `match_only`: nobody; mail is linked to the leads that exist.
Never: the team (its domain and subdomains, members' and mailboxes' addresses: see
`insiders`), the blocklist, bulk mail (lists, newsletters), bounces, auto-replies, daemons
and no-reply senders. An auto-reply (out of office) from a lead still links its thread,
but, like bulk mail and bounces, it is no activity of the lead's. Only people on the
messages being captured are candidates, so a lead junked without blocking comes back only
when there is new mail with them, not on someone else's reply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import LeadPolicy, Member, Workspace
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.addresses import normalize_email
from inboxcrm.errors import Invalid
from inboxcrm.leads.blocklist import Blocklist
from inboxcrm.leads.capture.messages import Mail
from inboxcrm.mail.models import MessageKind
from inboxcrm.mail.participants import Address, is_automated_sender
from inboxcrm.tenancy import Scope

MAX_LEAD_INBOXES = 20


@dataclass(frozen=True)
class CaptureRules:
    """How one workspace's mail makes leads."""

    policy: LeadPolicy
    lead_inboxes: frozenset[str]
    blocklist: Blocklist

    @classmethod
    def load(
        cls, session: Session, workspace: Workspace, policy: LeadPolicy | None = None
    ) -> CaptureRules:
        """The workspace's rules, with `policy` in place of its own if given."""
        return cls(
            policy=workspace.lead_policy if policy is None else policy,
            lead_inboxes=frozenset(a.strip().lower() for a in workspace.lead_inboxes or ()),
            blocklist=Blocklist.load(Scope(session, workspace.id)),
        )

    def can_be_lead(self, address: Address) -> bool:
        """Not a daemon or no-reply sender, and not blocked (the team is filtered before)."""
        return not is_automated_sender(address) and not self.blocklist.blocks(address.email)


def candidates(rules: CaptureRules, threads: dict[int, list[Mail]]) -> dict[str, Address]:
    """The people the policy makes leads of, in the order they appear."""
    wanted: dict[str, Address] = {}

    def want(address: Address) -> None:
        if address.email not in wanted and rules.can_be_lead(address):
            wanted[address.email] = address

    if rules.policy is LeadPolicy.match_only:
        return wanted
    for mails in threads.values():
        written_in = any(m.writes_out() for m in mails)
        writes_now = any(m.new and m.writes_out() for m in mails)
        for m in mails:
            if m.kind is not MessageKind.person:  # bulk, bounces, auto-replies: no new leads
                continue
            # All mail counts, or the team wrote it: everyone outside the team on it.
            if rules.policy is LeadPolicy.all_mail or m.from_insider:
                if m.new:
                    for address in m.external:
                        want(address)
                continue
            if m.sender is None:
                continue
            to_inbox = any(a.email in rules.lead_inboxes for a in m.recipients)
            # The team just wrote in the thread: everyone who wrote in it before counts.
            if (m.new and (written_in or to_inbox)) or writes_now:
                want(m.sender)
    return wanted


def parse_lead_inboxes(raw: str | Iterable[str]) -> list[str]:
    """`sales@acme.com, Hello@Acme.com` -> normalized addresses, each once, in order."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    inboxes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise Invalid("lead inboxes are email addresses", {"lead_inboxes": "not text"})
        try:
            address = normalize_email(item)
        except Invalid:
            raise Invalid(
                f"{item!r} is not an email address", {"lead_inboxes": f"{item!r} is not an address"}
            ) from None
        if address not in inboxes:
            inboxes.append(address)
    if len(inboxes) > MAX_LEAD_INBOXES:
        raise Invalid(
            f"at most {MAX_LEAD_INBOXES} lead inboxes", {"lead_inboxes": "too many addresses"}
        )
    return inboxes


def change_settings(
    session: Session,
    actor: Member,
    policy: LeadPolicy,
    lead_inboxes: list[str],
) -> bool:
    """An admin sets the lead policy and lead inboxes; a change has capture run again over
    the stored mail, so the leads match the new rules without waiting for new mail.
    Returns whether anything changed."""
    require_admin(actor, "change how leads are captured")
    workspace = session.get_one(Workspace, actor.workspace_id)
    if workspace.lead_policy is policy and list(workspace.lead_inboxes or []) == lead_inboxes:
        return False
    workspace.lead_policy = policy
    workspace.lead_inboxes = lead_inboxes
    # The clock applies the new rules to the stored mail (leads/jobs.py): a web request
    # would time out on a large workspace.
    workspace.recapture_from, workspace.recapture_created = 0, 0
    return True

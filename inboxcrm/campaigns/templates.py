"""Templates: create, edit (a new version each time the text changes), preview for a lead,
and the leads of a segment it fails for. Services flush; callers commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import Managed, require_manager
from inboxcrm.campaigns.merge import context_for
from inboxcrm.campaigns.models import EmailTemplate, TemplateVersion
from inboxcrm.campaigns.render import Compiled, Rendered, TemplateProblem, compile_template
from inboxcrm.errors import Invalid
from inboxcrm.leads.models import Company, Lead
from inboxcrm.segments.filters import Node
from inboxcrm.segments.service import lead_ids
from inboxcrm.tenancy import Scope, unique_name

MAX_NAME = 120
CHECK_LIMIT = 2_000  # leads of a segment checked for failures on the page


def compiled(subject: str, body: str) -> Compiled:
    """The compiled text, or Invalid naming the part and line (what a save refuses)."""
    try:
        return compile_template(subject, body)
    except TemplateProblem as exc:
        raise Invalid(f"the template is not valid: {exc}", {exc.part or "body": str(exc)}) from None


def create_template(
    scope: Scope, actor: Member, name: str, subject: str, body: str, now: dt.datetime
) -> EmailTemplate:
    require_manager(actor, Managed.templates)
    compiled(subject, body)
    template = EmailTemplate(
        workspace_id=scope.workspace_id,
        name=unique_name(scope, EmailTemplate, name, None, "template", MAX_NAME),
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    template.versions.append(_version(scope, actor, 1, subject, body, now))
    scope.session.add(template)
    scope.session.flush()
    return template


def _version(
    scope: Scope, actor: Member, number: int, subject: str, body: str, now: dt.datetime
) -> TemplateVersion:
    return TemplateVersion(
        workspace_id=scope.workspace_id,
        number=number,
        subject=subject,
        body=body,
        created_by_id=actor.id,
        created_at=now,
    )


def update_template(
    scope: Scope,
    actor: Member,
    template: EmailTemplate,
    now: dt.datetime,
    *,
    name: str | None = None,
    subject: str | None = None,
    body: str | None = None,
) -> EmailTemplate:
    """Rename, and/or write a new version when the subject or body changes; the versions
    before it stay as they were (a campaign that sent one keeps it)."""
    require_manager(actor, Managed.templates)
    if name is not None:
        template.name = unique_name(scope, EmailTemplate, name, template, "template", MAX_NAME)
    current = template.current
    new_subject = current.subject if subject is None else subject
    new_body = current.body if body is None else body
    if (new_subject, new_body) != (current.subject, current.body):
        compiled(new_subject, new_body)
        version = _version(scope, actor, current.number + 1, new_subject, new_body, now)
        template.versions.append(version)
    template.updated_at = now
    scope.session.flush()
    return template


def templates_of(scope: Scope) -> list[EmailTemplate]:
    return list(
        scope.session.scalars(
            scope.select(EmailTemplate)
            .options(selectinload(EmailTemplate.versions))
            .order_by(func.lower(EmailTemplate.name))
        )
    )


def preview(version: TemplateVersion, lead: Lead, sender: Member) -> Rendered:
    """The message as `lead` would get it from `sender`, or TemplateProblem."""
    return compile_template(version.subject, version.body).render(context_for(lead, sender))


@dataclass(frozen=True)
class Failure:
    lead: Lead
    problem: TemplateProblem


@dataclass(frozen=True)
class Check:
    checked: int  # leads rendered
    failures: list[Failure]
    capped: bool  # the segment has more leads than were checked


def failures(
    scope: Scope,
    version: TemplateVersion,
    node: Node,
    sender: Member,
    now: dt.datetime,
    limit: int = CHECK_LIMIT,
) -> Check:
    """The leads of a segment the template fails for (a field missing without a fallback),
    each with the reason: compiled once, rendered per lead, leads loaded 500 at a time."""
    template = compile_template(version.subject, version.body)
    ids = lead_ids(scope, node, now, limit + 1)
    capped = len(ids) > limit
    ids = ids[:limit]
    found: list[Failure] = []
    for start in range(0, len(ids), 500):
        rows = scope.session.scalars(
            select(Lead)
            .where(Lead.id.in_(ids[start : start + 500]))
            .options(selectinload(Lead.company).selectinload(Company.domains))
            .order_by(Lead.id)
        ).unique()
        for lead in rows:
            try:
                template.render(context_for(lead, sender))
            except TemplateProblem as exc:
                found.append(Failure(lead, exc))
    return Check(len(ids), found, capped)

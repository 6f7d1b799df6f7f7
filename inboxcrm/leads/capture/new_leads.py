"""New leads from mail, and their companies: a lead per person the policy picked, with
the company of their domain (found, or made with a name from the domain) and the owner
whose mailbox exchanged mail with them first. Rows go in as multi-row INSERTs: a batch
can make hundreds of leads, and ORM objects cost more than the rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from inboxcrm.addresses import company_domain
from inboxcrm.db import chunks
from inboxcrm.events import EventType, emit_many
from inboxcrm.leads.capture.bulk import insert_rows
from inboxcrm.leads.capture.messages import Mail
from inboxcrm.leads.models import Company, CompanyDomain, Lead, LeadEmail
from inboxcrm.leads.service import company_name, search_text
from inboxcrm.mail.participants import Address
from inboxcrm.stages.service import entry_stage
from inboxcrm.tenancy import Scope


def _companies(
    session: Session, workspace_id: int, domains: list[str], now: dt.datetime
) -> dict[str, tuple[int, str]]:
    """The company of each domain (id and name): the one that has it, else a new one."""
    companies: dict[str, tuple[int, str]] = {}
    for chunk in chunks(domains):
        found = session.execute(
            select(CompanyDomain.domain, Company.id, Company.name)
            .join(Company, Company.id == CompanyDomain.company_id)
            .where(CompanyDomain.workspace_id == workspace_id, CompanyDomain.domain.in_(chunk))
        )
        companies.update((d, (i, n)) for d, i, n in found.tuples())
    missing = [d for d in domains if d not in companies]
    if missing:
        made: list[dict[str, Any]] = [
            {"workspace_id": workspace_id, "name": company_name(d), "created_at": now}
            for d in missing
        ]
        ids = session.scalars(
            insert(Company).returning(Company.id, sort_by_parameter_order=True), made
        ).all()
        session.execute(
            insert(CompanyDomain),
            [
                {"workspace_id": workspace_id, "company_id": i, "domain": d}
                for i, d in zip(ids, missing, strict=True)
            ],
        )
        companies.update((d, (i, c["name"])) for d, i, c in zip(missing, ids, made, strict=True))
    return companies


def create_leads(
    session: Session,
    workspace_id: int,
    owners: dict[int, int],
    people: dict[str, Address],
    mails: list[Mail],
    now: dt.datetime,
) -> dict[str, int]:
    """New leads for these people (address -> id); `owners` maps a mailbox to its member."""
    if not people:
        return {}
    ws = workspace_id
    first_box: dict[str, int] = {}
    names: dict[str, str] = {}
    for m in sorted(mails, key=lambda m: (m.sent_at, m.id)):
        for address in m.external:
            if address.email in people:
                first_box.setdefault(address.email, m.mailbox_id)
                if address.name and not names.get(address.email):
                    names[address.email] = address.name
    domains = {e: company_domain(e) for e in people}
    wanted = list(dict.fromkeys(d for d in domains.values() if d))
    companies = _companies(session, ws, wanted, now)  # domain -> company id and name
    stage_id = entry_stage(Scope(session, ws)).id
    rows: list[dict[str, Any]] = []
    for email in people:
        domain = domains[email]
        company_id, company_name = companies[domain] if domain else (None, "")
        name = names.get(email, "")[:200]
        rows.append(
            {
                "workspace_id": ws,
                "email": email,
                "name": name,
                "company_id": company_id,
                "owner_id": owners.get(first_box.get(email, -1)),
                "stage_id": stage_id,
                "source": "mail",
                "needs_review": True,
                "search_text": search_text(name, [email], company_name),
                "created_at": now,
                "updated_at": now,
            }
        )
    insert_rows(session, Lead, rows)  # no RETURNING: SQLite goes row by row
    made_ids: dict[str, int] = {}
    for chunk in chunks(people):
        found_ids = session.execute(
            select(Lead.email, Lead.id).where(Lead.workspace_id == ws, Lead.email.in_(chunk))
        )
        made_ids.update(found_ids.tuples().all())
    insert_rows(
        session,
        LeadEmail,
        [{"workspace_id": ws, "lead_id": i, "email": e} for e, i in made_ids.items()],
    )
    by_email = {row["email"]: row for row in rows}
    emit_many(session, ws, EventType.lead_created, now, [
        (i, {"id": i, "email": e, "name": by_email[e]["name"], "source": "mail",
             "company": by_email[e]["company_id"] and {"id": by_email[e]["company_id"]},
             "owner_id": by_email[e]["owner_id"], "stage_id": stage_id})
        for e, i in made_ids.items()
    ])  # fmt: skip
    return made_ids

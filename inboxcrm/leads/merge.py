"""Merging two leads that are one person: everything of one moves to the other, nothing lost."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.orm import InstrumentedAttribute

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import Action, require, require_some
from inboxcrm.errors import Conflict, Invalid, NotFound
from inboxcrm.events import EventType, emit
from inboxcrm.leads.models import Activity, Lead, LinkSource, Note, ThreadLead
from inboxcrm.leads.serialize import lead_json, lead_ref
from inboxcrm.leads.service import find_lead_by_email, refresh_search_text
from inboxcrm.mail.models import Thread
from inboxcrm.stages.models import ChangeSource, StageChange
from inboxcrm.tenancy import Scope

# Rows that point at a lead and simply follow it to the kept lead.
REPOINTED: tuple[InstrumentedAttribute[Any], ...] = (
    Note.lead_id,
    Activity.lead_id,
    StageChange.lead_id,
    Thread.primary_lead_id,
)
# Tables of the domains above leads whose rows follow a merged lead too (leads cannot import
# their models, so they are named), with the columns that make a row unique per lead. A row
# whose key the kept lead already has stays with the merged lead and loses it (its lead_id
# goes null): one person gets one email of a campaign, not two. A suppression has no such
# key: it keeps its address and names the kept lead.
FOLLOWING: dict[str, tuple[str, ...]] = {
    "suppression": (),
    "send": ("source_kind", "source_id"),
}

# What ends with the merged lead: its sequence enrollments lose their lead (SET NULL) and
# leave their sequences, reason "removed", when next due; its open sequence tasks go with it.
# The kept lead's own enrollments go on: one person gets one sequence's emails, not two.
ENDED_WITH_IT = frozenset({("enrollment", "lead_id"), ("sequence_task", "lead_id")})
# Every foreign key to lead.id, as (table, column), that a merge handles: the ones above,
# addresses (moved one by one), thread links (duplicates collapsed) and tags (union). A test
# compares this with the schema, so a new table pointing at leads cannot be forgotten.
HANDLED_REFERENCES = frozenset(
    {(c.class_.__tablename__, c.key) for c in REPOINTED}
    | {(table, "lead_id") for table in FOLLOWING}
    | {("lead_email", "lead_id"), ("thread_lead", "lead_id"), ("lead_tag", "lead_id")}
    | {("score_event", "lead_id"), ("score_sums", "lead_id")}  # see SCORED
    | {("temperature_change", "lead_id")}
    | {("notification", "lead_id")}  # a notice about the merged lead goes with it
    | {("enrollment_refusal", "lead_id")}  # why a trigger left it out: the kept lead is news
    | ENDED_WITH_IT
)
# Scoring's rows of the merged lead (its awards, their sums, its temperature history) go
# with it: the kept lead is queued for a rescore (`rescore_at`), from the activities that
# moved to it (which `scored_with` no longer matches: it is rescored in full).
SCORED = ("rescore_at", "temperature_changed_at", "scored_with")

# What happens to each column of the kept lead. A test checks every column is listed.
KEPT = frozenset(
    {"id", "workspace_id", "email", "stage_id", "lost_reason", "source", "needs_review",
     "search_text", "updated_at", *SCORED}
)  # fmt: skip
FILLED = ("name", "company_id", "owner_id", "title", "phone", "timezone", "budget", "authority",
          "need", "timeline", "next_step")  # fmt: skip
EARLIEST = ("created_at", "first_inbound_at", "first_response_at", "link_mail_at")
LATEST = ("last_contacted_at", "last_replied_at", "last_engaged_at")
# Taken together: a deal value with its currency, the higher score with its temperature.
PAIRED = {"deal_value": "currency", "score": "temperature"}
# Columns filled through their relationship, so the loaded object stays in step.
_RELATED = {"company_id": "company", "owner_id": "owner"}


@dataclass(frozen=True)
class Merged:
    """What moved from the merged lead into the kept one."""

    kept: Lead
    merged_name: str
    addresses: int
    threads: int  # threads new to the kept lead; a thread both were on is counted nowhere
    notes: int
    activities: int
    stage_changes: int
    tags: int

    def summary(self) -> str:
        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        parts = [
            n(self.addresses, "address", "addresses"),
            n(self.threads, "thread", "threads"),
            n(self.notes, "note", "notes"),
        ]
        # The rarer kinds only when something moved, to keep the message short.
        if self.activities:
            parts.append(n(self.activities, "activity", "activities"))
        if self.stage_changes:
            parts.append(n(self.stage_changes, "stage change", "stage changes"))
        if self.tags:
            parts.append(n(self.tags, "tag", "tags"))
        return f"Merged {self.merged_name} into {_label(self.kept)}: {', '.join(parts)}."


def _label(lead: Lead) -> str:
    return lead.name or lead.email


_LEAD_URL = re.compile(r"(?:^#?|/leads/)(\d+)/?$")


def lead_to_merge(scope: Scope, text: str) -> Lead:
    """The lead a rep named: an address of it, its id (`42`, `#42`) or its page's URL."""
    text = text.strip()
    if not text:
        raise Invalid("enter the other lead's email address or id", {"other_lead_id": "required"})
    if "@" in text:
        found = find_lead_by_email(scope, text)  # a malformed address is Invalid, with why
        if found is None:
            raise NotFound(f"no lead has the address {text}", {"other_lead_id": "not found"})
        return found
    number = _LEAD_URL.search(text)
    if number is None:
        raise Invalid(
            f"{text!r} is neither an email address nor a lead id",
            {"other_lead_id": "an email address or a lead id"},
        )
    return scope.get(Lead, int(number.group(1)))


def _lock(scope: Scope, keep: Lead, other: Lead) -> None:
    """Lock both rows (in id order, so two opposite merges cannot deadlock) and re-read them:
    a concurrent merge may have changed or removed either. SQLite locks the whole file."""
    ids = sorted({keep.id, other.id})
    found = set(
        scope.session.scalars(
            scope.select(Lead, Lead.id.in_(ids))
            .with_only_columns(Lead.id)
            .order_by(Lead.id)
            .with_for_update()
        )
    )
    for lead in (keep, other):
        if lead.id not in found:
            raise NotFound(f"lead {lead.id} not found")
        scope.session.refresh(lead)


def _merge_fields(keep: Lead, other: Lead) -> None:
    for name in FILLED:
        if getattr(keep, name) in (None, "") and getattr(other, name) not in (None, ""):
            related = _RELATED.get(name)
            if related:
                setattr(keep, related, getattr(other, related))
            else:
                setattr(keep, name, getattr(other, name))
    for name in EARLIEST:
        values = [v for v in (getattr(keep, name), getattr(other, name)) if v is not None]
        setattr(keep, name, min(values, default=None))
    for name in LATEST:
        values = [v for v in (getattr(keep, name), getattr(other, name)) if v is not None]
        setattr(keep, name, max(values, default=None))
    if keep.deal_value is None and other.deal_value is not None:
        keep.deal_value, keep.currency = other.deal_value, other.currency
    if other.score > keep.score:
        keep.score, keep.temperature = other.score, other.temperature
        keep.temperature_changed_at = other.temperature_changed_at


def _merge_links(scope: Scope, keep: Lead, other: Lead) -> int:
    """Move the other lead's thread links; a thread on both keeps one link, detached if
    either was (a rep's detach is never undone) and manual if either was."""
    theirs = list(scope.session.scalars(scope.select(ThreadLead, ThreadLead.lead_id == other.id)))
    mine = {
        link.thread_id: link
        for link in scope.session.scalars(
            scope.select(
                ThreadLead,
                ThreadLead.lead_id == keep.id,
                ThreadLead.thread_id.in_([link.thread_id for link in theirs]),
            )
        )
    }
    moved = 0
    for link in theirs:
        existing = mine.get(link.thread_id)
        if existing is None:
            link.lead_id = keep.id
            moved += 1
            continue
        existing.detached = existing.detached or link.detached
        if link.source is LinkSource.manual:
            existing.source = LinkSource.manual
        scope.session.delete(link)
    return moved


def _repoint(scope: Scope, column: InstrumentedAttribute[Any], keep: Lead, other: Lead) -> int:
    model = column.class_
    result = scope.session.execute(
        update(model)
        .where(model.workspace_id == scope.workspace_id, column == other.id)
        .values({column.key: keep.id})
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount


def _follow(scope: Scope, keep: Lead, other: Lead) -> None:
    for name, key in FOLLOWING.items():
        columns = ("id", "workspace_id", "lead_id", *key)
        table = sql_table(name, *(sql_column(c) for c in columns))
        criteria = [table.c.workspace_id == scope.workspace_id, table.c.lead_id == other.id]
        if key:
            mine = table.alias()
            taken = (
                select(mine.c.id)
                .where(mine.c.lead_id == keep.id, *(mine.c[k] == table.c[k] for k in key))
                .exists()
            )
            criteria.append(~taken)
        scope.session.execute(update(table).where(*criteria).values(lead_id=keep.id))


def merge_leads(scope: Scope, keep: Lead, other: Lead, actor: Member, now: dt.datetime) -> Merged:
    """Move everything of `other` into `keep` and delete `other`; flushes, the caller commits.

    Both in this workspace (else NotFound, as for any other workspace's row). `keep` keeps
    its primary address, stage and owner; its empty fields take `other`'s values. The stage
    history moves along, and one more stage change records the merge, from the stage the
    other lead was in to the kept lead's stage, so the history reads in order.

    The actor must be allowed to merge each of the two (`Action.merge`: a rep, only leads
    that are theirs or nobody's), checked on the rows as locked.
    """
    require_some(actor, Action.merge)
    for lead in (keep, other):
        if lead.workspace_id != scope.workspace_id:
            raise NotFound(f"lead {lead.id} not found")
    if keep.id == other.id:
        raise Conflict("a lead cannot be merged with itself", {"lead_id": "the same lead"})
    _lock(scope, keep, other)
    for lead in (keep, other):
        require(actor, Action.merge, lead.owner_id, _label(lead))
    merged_name = _label(other)
    merged_ref = lead_ref(other)
    addresses = list(other.emails)
    for address in addresses:
        address.lead = keep  # moves it from one collection to the other: never orphaned
    threads = _merge_links(scope, keep, other)
    counts = {column.class_: _repoint(scope, column, keep, other) for column in REPOINTED}
    _follow(scope, keep, other)
    known = {tag.id for tag in keep.tags}
    new_tags = [tag for tag in other.tags if tag.id not in known]
    keep.tags = [*keep.tags, *new_tags]
    _merge_fields(keep, other)
    keep.rescore_at = now
    scope.session.add(
        StageChange(
            workspace_id=scope.workspace_id,
            lead_id=keep.id,
            from_stage_id=other.stage_id,
            to_stage_id=keep.stage_id,
            changed_at=now,
            source=ChangeSource.member,
            member_id=actor.id,
            detail=f"merged {merged_name} <{other.email}> into this lead"[:300],
        )
    )
    scope.session.delete(other)
    refresh_search_text(keep)  # loads the addresses, which flushes: updated_at comes after
    keep.needs_review = False  # a rep looked at it
    keep.updated_at = now
    scope.session.flush()
    emit(scope.session, scope.workspace_id, EventType.lead_merged, now,
         {"lead": lead_json(keep), "merged": merged_ref}, keep.id)  # fmt: skip
    return Merged(
        kept=keep,
        merged_name=merged_name,
        addresses=len(addresses),
        threads=threads,
        notes=counts[Note],
        activities=counts[Activity],
        stage_changes=counts[StageChange],
        tags=len(new_tags),
    )

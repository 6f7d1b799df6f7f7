"""What an import will do with each row, decided against the workspace: the stage and
owner it names, the lead its addresses already belong to (by any of the lead's
addresses: created, updated, or merged into the lead by another address), or why not.
The dry run and the run both plan this way; the dry run only counts."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.db import chunks
from inboxcrm.exchange.rows import Refused, Row
from inboxcrm.leads.models import Lead, LeadEmail
from inboxcrm.stages.models import Stage


class Kind(enum.StrEnum):
    created = "created"
    updated = "updated"  # matched by its primary address
    merged = "merged"  # matched by another of its addresses: the row's new ones join it


@dataclass(frozen=True)
class Directory:
    """The stages and members rows name, loaded once per import."""

    stages: dict[str, int]  # lower-cased name -> id
    stage_names: list[str]
    members: dict[str, int]  # lower-cased address, or a name only one member has -> id
    entry_stage_id: int

    @classmethod
    def load(cls, session: Session, workspace_id: int) -> Directory:
        stages = list(
            session.execute(
                select(Stage.id, Stage.name)
                .where(Stage.workspace_id == workspace_id)
                .order_by(Stage.position)
            )
            .tuples()
            .all()
        )
        members: dict[str, int] = {}
        names: dict[str, list[int]] = {}
        for member_id, email, name in session.execute(
            select(Member.id, Member.email, Member.name).where(Member.workspace_id == workspace_id)
        ).tuples():
            members[email.lower()] = member_id
            if name:
                names.setdefault(" ".join(name.lower().split()), []).append(member_id)
        for name, ids in names.items():
            if len(ids) == 1:
                members.setdefault(name, ids[0])
        return cls({n.lower(): i for i, n in stages}, [n for _, n in stages], members, stages[0][0])


@dataclass(frozen=True)
class Planned:
    row: Row
    kind: Kind
    lead_id: int | None
    stage_id: int | None  # named by the row; None: left as it is (or the entry stage)
    owner_id: int | None


def plan(
    session: Session,
    workspace_id: int,
    directory: Directory,
    rows: Sequence[Row | Refused],
    seen: dict[str, int],
) -> list[Planned | Refused]:
    """Each row's plan, in order; `seen` (address -> row) carries the file's earlier
    addresses from batch to batch, so a second row with one of them is refused."""
    wanted = sorted({e for r in rows if isinstance(r, Row) for e in r.emails})
    lead_of: dict[str, int] = {}
    for chunk in chunks(wanted):
        lead_of.update(
            session.execute(
                select(LeadEmail.email, LeadEmail.lead_id).where(
                    LeadEmail.workspace_id == workspace_id, LeadEmail.email.in_(chunk)
                )
            )
            .tuples()
            .all()
        )
    primary: dict[int, str] = {}
    for ids in chunks(sorted(set(lead_of.values()))):
        primary.update(
            session.execute(select(Lead.id, Lead.email).where(Lead.id.in_(ids))).tuples().all()
        )
    planned: list[Planned | Refused] = []
    for row in rows:
        planned.append(
            row if isinstance(row, Refused) else _one(row, directory, lead_of, primary, seen)
        )
    return planned


def _one(
    row: Row,
    directory: Directory,
    lead_of: dict[str, int],
    primary: dict[int, str],
    seen: dict[str, int],
) -> Planned | Refused:
    email = row.emails[0]
    again = next((e for e in row.emails if e in seen), None)
    if again is not None:
        return Refused(row.number, f"{again} is also in row {seen[again]}", email)
    stage_id = owner_id = None
    if row.stage is not None:
        stage_id = directory.stages.get(row.stage.lower())
        if stage_id is None:
            names = ", ".join(directory.stage_names)
            return Refused(row.number, f"no stage {row.stage[:60]!r} (stages: {names})", email)
    if row.owner is not None:
        owner_id = directory.members.get(" ".join(row.owner.lower().split()))
        if owner_id is None:
            return Refused(row.number, f"no member {row.owner[:80]!r} in this workspace", email)
    leads = sorted({lead_of[e] for e in row.emails if e in lead_of})
    if len(leads) > 1:
        return Refused(
            row.number,
            f"its addresses belong to {len(leads)} leads ({', '.join(map(str, leads))}): "
            "merge them first",
            email,
        )
    for e in row.emails:
        seen[e] = row.number
    if not leads:
        return Planned(row, Kind.created, None, stage_id, owner_id)
    kind = Kind.updated if primary.get(leads[0]) == email else Kind.merged
    return Planned(row, kind, leads[0], stage_id, owner_id)

"""What an activity condition's `of` names: the Sends of a campaign, of a sequence, or of
one step of it ("opened campaign X", "received step 2 of sequence Y").

Segments sit below campaigns and sequences, so this module reads their tables by name
(`campaign`, `sequence`, `sequence_step`: id, workspace, name, the steps' order) and
imports neither. A step is numbered as the sequence's page numbers it: its place among all
the sequence's steps in order, a removed one included, from 1. Resolving an `of` checks
that what it names exists in the workspace and turns it into a criterion over `Send`, so
the compiled query holds ids, not lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, column, false, or_, select, table
from sqlalchemy.orm import Session

from inboxcrm.leads.models import ActivityKind
from inboxcrm.outbox.models import Send, SourceKind
from inboxcrm.segments.filters import FilterProblem, Of

_campaign = table("campaign", column("id"), column("workspace_id"), column("name"),
                  column("created_at"))  # fmt: skip
_sequence = table("sequence", column("id"), column("workspace_id"), column("name"))
_step = table("sequence_step", column("id"), column("sequence_id"), column("position"),
              column("kind"))  # fmt: skip

# What the lead did to a source's email, in words ("opened campaign X").
VERBS = {
    ActivityKind.message_out.value: "received",
    ActivityKind.open.value: "opened",
    ActivityKind.click.value: "clicked in",
    ActivityKind.reply.value: "replied to",
}


@dataclass(frozen=True)
class Source:
    """One `of`, resolved: which Sends it means, and what it is called."""

    sends: ColumnElement[bool]  # a criterion over Send (the workspace is the caller's)
    text: str


def resolve(session: Session, workspace_id: int, wanted: Mapping[Of, str]) -> dict[Of, Source]:
    """Each `of` of a filter (with where it first appears) resolved, or FilterProblem
    naming what does not exist, and where."""
    out: dict[Of, Source] = {}
    campaigns = {v for of in wanted for k, v in of if k == "campaign"}
    sequences = {v for of in wanted for k, v in of if k == "sequence"}
    names: dict[tuple[str, int], str] = {}
    if campaigns:
        for cid, name in session.execute(
            select(_campaign.c.id, _campaign.c.name).where(
                _campaign.c.workspace_id == workspace_id, _campaign.c.id.in_(campaigns)
            )
        ).tuples():
            names[("campaign", cid)] = name
    steps: dict[int, list[tuple[int, str]]] = {}
    if sequences:
        for sid, name in session.execute(
            select(_sequence.c.id, _sequence.c.name).where(
                _sequence.c.workspace_id == workspace_id, _sequence.c.id.in_(sequences)
            )
        ).tuples():
            names[("sequence", sid)] = name
            steps[sid] = []
        for sid, step_id, kind in session.execute(
            select(_step.c.sequence_id, _step.c.id, _step.c.kind)
            .where(_step.c.sequence_id.in_(list(steps) or [0]))
            .order_by(_step.c.sequence_id, _step.c.position, _step.c.id)
        ).tuples():
            steps[sid].append((step_id, str(kind)))
    for of, where in sorted(wanted.items()):
        try:
            out[of] = _source(dict(of), names, steps)
        except FilterProblem as exc:
            raise FilterProblem(where, exc.message) from None
    return out


def _source(of: dict[str, Any], names: dict[tuple[str, int], str],
            steps: dict[int, list[tuple[int, str]]]) -> Source:  # fmt: skip
    if "campaign" in of:
        cid = of["campaign"]
        if ("campaign", cid) not in names:
            raise FilterProblem("", f"there is no campaign {cid} in this workspace")
        return Source(
            and_(Send.source_kind == SourceKind.campaign, Send.source_id == str(cid)),
            f"campaign “{names[('campaign', cid)]}”",
        )
    sid = of["sequence"]
    if ("sequence", sid) not in names:
        raise FilterProblem("", f"there is no sequence {sid} in this workspace")
    name = names[("sequence", sid)]
    mine = steps[sid]
    number = of.get("step")
    if number is None:
        emails = [step_id for step_id, kind in mine if kind == "email"]
        return Source(_of_steps(emails), f"sequence “{name}”")
    if number > len(mine):
        raise FilterProblem(
            "", f"sequence “{name}” has {len(mine)} steps: there is no step {number}"
        )
    step_id, kind = mine[number - 1]
    if kind != "email":
        raise FilterProblem(
            "", f"step {number} of sequence “{name}” is a {kind} step: it sends no email"
        )
    return Source(_of_steps([step_id]), f"step {number} of sequence “{name}”")


def _of_steps(step_ids: list[int]) -> ColumnElement[bool]:
    """A step's Sends: their source is "<enrollment id>:<step id>"."""
    if not step_ids:
        return false()
    return and_(
        Send.source_kind == SourceKind.step,
        or_(*(Send.source_id.like(f"%:{step_id}") for step_id in step_ids)),
    )


def choices(session: Session, workspace_id: int) -> dict[str, list[Any]]:
    """What the builder's pickers offer: campaigns newest first, and sequences with the
    numbers and kinds of their steps."""
    campaigns = [
        [cid, name]
        for cid, name in session.execute(
            select(_campaign.c.id, _campaign.c.name)
            .where(_campaign.c.workspace_id == workspace_id)
            .order_by(_campaign.c.id.desc())
        ).tuples()
    ]
    sequences: dict[int, list[Any]] = {}
    for sid, name in session.execute(
        select(_sequence.c.id, _sequence.c.name)
        .where(_sequence.c.workspace_id == workspace_id)
        .order_by(_sequence.c.name)
    ).tuples():
        sequences[sid] = [sid, name, []]
    if sequences:
        for sid, kind in session.execute(
            select(_step.c.sequence_id, _step.c.kind)
            .where(_step.c.sequence_id.in_(list(sequences)))
            .order_by(_step.c.sequence_id, _step.c.position, _step.c.id)
        ).tuples():
            steps = sequences[sid][2]
            steps.append([len(steps) + 1, f"step {len(steps) + 1} ({kind})", kind == "email"])
    return {"campaign": campaigns, "sequence": list(sequences.values())}

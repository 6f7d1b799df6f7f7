"""Stage labels in each mailbox: made to exist, kept by Gmail label id, and followed.

Every stage with a label name has that label in every connected mailbox. A label of that
name already there is adopted (Gmail compares names case-insensitively); one renamed by
hand in Gmail keeps its id and so keeps working, and only its shown name changes; one
deleted in Gmail is created again and the fact is kept on the row for the settings page.
Renaming a stage's label in inboxcrm renames it in Gmail. The check is one labels.list
(1 quota unit): it runs when the stages changed since, and every CHECK_EVERY otherwise;
`Mailbox.labels_due_at` says when (null: at the next chance), so a poll that has nothing
to check reads nothing for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.gmail.calls import GmailCalls, LabelExists
from inboxcrm.labels.models import StageLabel
from inboxcrm.stages.models import Stage

log = logging.getLogger(__name__)
CHECK_EVERY = dt.timedelta(minutes=10)


@dataclass
class Checked:
    created: list[str] = field(default_factory=list)  # label names created in Gmail
    adopted: list[str] = field(default_factory=list)  # existing labels taken over
    renamed: list[str] = field(default_factory=list)  # renamed in Gmail to follow a stage
    recreated: list[str] = field(default_factory=list)  # deleted in Gmail, created again


def _stages(session: Session, workspace_id: int) -> list[Stage]:
    return list(
        session.scalars(
            select(Stage).where(Stage.workspace_id == workspace_id).order_by(Stage.position)
        )
    )


def _rows(session: Session, mailbox_id: int) -> dict[int, StageLabel]:
    rows = session.scalars(select(StageLabel).where(StageLabel.mailbox_id == mailbox_id))
    return {row.stage_id: row for row in rows}


def labels_due(mailbox: Mailbox, now: dt.datetime) -> bool:
    """Whether the mailbox's stage labels need a look (from the row: no query)."""
    return mailbox.labels_due_at is None or mailbox.labels_due_at <= now


def check_soon(session: Session, *where: Any) -> None:
    """Look at the labels of the mailboxes matching `where` at the next chance: the stages
    changed, or Gmail refused one of our label ids (deleted meanwhile)."""
    session.execute(
        update(Mailbox).where(*where).values(labels_due_at=None),
        execution_options={"synchronize_session": False},
    )


def _by_name(labels: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    wanted = name.casefold()
    return next((lb for lb in labels if str(lb.get("name", "")).casefold() == wanted), None)


def _create(calls: GmailCalls, name: str) -> tuple[dict[str, Any], bool]:
    """The label of that name, created, or adopted when Gmail says it exists (409)."""
    try:
        return calls.create_label(name), True
    except LabelExists:
        pass
    found = _by_name(calls.labels(), name)
    if found is None:
        raise LookupError(f"Gmail says a label {name!r} exists but does not list it")
    return found, False


def ensure_labels(
    session: Session, mailbox: Mailbox, calls: GmailCalls, now: dt.datetime
) -> Checked:
    """Make the mailbox's stage labels match the stages; flushes, never commits."""
    done = Checked()
    labels = calls.labels()
    by_id = {str(lb["id"]): lb for lb in labels}
    rows = _rows(session, mailbox.id)
    for stage in _stages(session, mailbox.workspace_id):
        row = rows.pop(stage.id, None)
        wanted = stage.label
        if wanted is None:
            if row is not None:  # the stage lost its label: Gmail keeps it, we forget it
                session.delete(row)
            continue
        label = by_id.get(row.gmail_id) if row is not None else None
        if row is not None and label is not None:
            if row.wanted != wanted and str(label["name"]).casefold() != wanted.casefold():
                other = _by_name(labels, wanted)
                if other is not None:  # a label of the new name exists: it becomes ours
                    label = other
                    done.adopted.append(wanted)
                else:
                    label = calls.rename_label(row.gmail_id, wanted)
                    done.renamed.append(wanted)
            row.gmail_id, row.name, row.wanted = str(label["id"]), str(label["name"]), wanted
            row.checked_at = now
            continue
        label = _by_name(labels, wanted)
        if label is None:
            label, made = _create(calls, wanted)
            labels.append(label)
        else:
            made = False
        if row is None:
            row = StageLabel(workspace_id=mailbox.workspace_id, stage_id=stage.id)
            row.mailbox_id = mailbox.id
            session.add(row)
            (done.created if made else done.adopted).append(wanted)
        else:
            log.warning(
                "mailbox %s: stage label %r was deleted in Gmail; recreated", mailbox.id, row.name
            )
            row.recreated_at = now
            done.recreated.append(wanted)
        row.gmail_id, row.name, row.wanted = str(label["id"]), str(label["name"]), wanted
        row.checked_at = now
        session.flush()
    for row in rows.values():  # stages deleted meanwhile (their rows went with them)
        session.delete(row)
    mailbox.labels_due_at = now + CHECK_EVERY
    session.flush()
    return done


def stage_of_label(session: Session, mailbox_id: int) -> dict[str, StageLabel]:
    """Gmail label id -> its stage label row, for one mailbox."""
    rows = session.scalars(select(StageLabel).where(StageLabel.mailbox_id == mailbox_id))
    return {row.gmail_id: row for row in rows}


def labels_by_stage(session: Session, workspace_id: int) -> dict[int, list[StageLabel]]:
    """Every mailbox's label of each stage, for the settings page."""
    rows = session.scalars(
        select(StageLabel)
        .where(StageLabel.workspace_id == workspace_id)
        .order_by(StageLabel.mailbox_id)
    )
    found: dict[int, list[StageLabel]] = {}
    for row in rows:
        found.setdefault(row.stage_id, []).append(row)
    return found

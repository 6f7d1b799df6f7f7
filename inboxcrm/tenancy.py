"""Workspace scoping: every query for workspace rows goes through a Scope."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from inboxcrm.db import InWorkspace
from inboxcrm.errors import Conflict, Invalid, NotFound

Row = TypeVar("Row", bound=InWorkspace)


@dataclass(frozen=True)
class Scope:
    session: Session
    workspace_id: int

    def select(self, model: type[Row], *criteria: Any) -> Select[tuple[Row]]:
        return select(model).where(model.workspace_id == self.workspace_id, *criteria)

    def find(self, model: type[Row], row_id: int) -> Row | None:
        return self.session.scalars(self.select(model, model.id == row_id)).first()

    def get(self, model: type[Row], row_id: int) -> Row:
        """A row of this workspace, or NotFound: another workspace's id looks like a missing one."""
        row = self.find(model, row_id)
        if row is None:
            raise NotFound(f"{model.__name__.lower()} {row_id} not found")
        return row


def unique_name(
    scope: Scope, model: type[Row], raw: Any, current: Row | None, noun: str, limit: int
) -> str:
    """A named row's name: one line of plain text (inner runs of spaces made one), at most
    `limit` characters, unique in the workspace ignoring case; else Invalid or Conflict."""
    text = " ".join(str(raw or "").split())
    if not text:
        raise Invalid(f"the {noun} name cannot be empty", {"name": "required"})
    if len(text) > limit:
        raise Invalid(
            f"the {noun} name is too long (at most {limit} characters)", {"name": "too long"}
        )
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise Invalid(f"the {noun} name has control characters", {"name": "invalid"})
    column: Any = model.name  # type: ignore[attr-defined]
    clash = scope.session.scalars(scope.select(model, func.lower(column) == text.lower())).first()
    if clash is not None and clash is not current:
        raise Conflict(f"there is already a {noun} called {clash.name}", {"name": "taken"})  # type: ignore[attr-defined]
    return text

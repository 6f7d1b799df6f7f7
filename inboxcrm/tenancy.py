"""Workspace scoping: every query for workspace rows goes through a Scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from inboxcrm.db import InWorkspace
from inboxcrm.errors import NotFound

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

"""The board's running figures: what each stage holds per owner and currency, kept by
the database itself as leads are written."""

from __future__ import annotations

import decimal

from sqlalchemy import Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.db import Base, InWorkspace


class StageTally(InWorkspace, Base):
    """A change to a stage's figures: a lead in (+1) or out (-1), with its deal value.

    Triggers on `lead` (migration 0037) add a row per lead inserted or deleted, and two
    per update of its stage, owner, currency or deal value: nothing in the app writes
    them, so no write path (the ORM, Core bulk writes, a merge, a console) can forget.
    Rows are only ever added, never updated, so concurrent writers never wait on one
    another; the clock folds them into one row a group (`tally.compact_due`). A group's
    figures are the sums of its rows."""

    __tablename__ = "stage_tally"

    # Plain numbers, no foreign keys: a tally outlives nothing it counts (an empty stage
    # may be deleted with net-zero rows of it left, until they are folded away).
    stage_id: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    leads: Mapped[int] = mapped_column(Integer)
    valued: Mapped[int] = mapped_column(Integer)  # of them with a deal value
    value: Mapped[decimal.Decimal | None] = mapped_column(Numeric(18, 2))

    __table_args__ = (Index(None, "workspace_id", "owner_id"),)

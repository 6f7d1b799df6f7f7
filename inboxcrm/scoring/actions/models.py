"""Score actions' tables: a workspace's action settings (none stored: the defaults), and
the queue of new inbound leads waiting for an answer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import true

from inboxcrm.db import Base, InWorkspace


class ActionSettings(InWorkspace, Base):
    """One row per workspace, once an admin saved the settings page."""

    __tablename__ = "action_settings"

    move_on: Mapped[bool] = mapped_column(default=True, server_default=true())
    move_score: Mapped[int] = mapped_column(default=50)
    # Null: the stage was deleted; the move rule waits until an admin picks another.
    move_from_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="SET NULL"))
    move_to_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="SET NULL"))
    notify_hot: Mapped[bool] = mapped_column(default=True, server_default=true())
    notify_waiting: Mapped[bool] = mapped_column(default=True, server_default=true())
    wait_minutes: Mapped[int] = mapped_column(default=45)
    updated_at: Mapped[dt.datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))

    __table_args__ = (Index(None, "workspace_id", unique=True),)


class InboundWait(InWorkspace, Base):
    """A lead's inquiry, to be checked at `check_at` (its time plus the workspace's wait):
    if the team has not written to the lead since, its owner hears of it. The row is
    the queue's item and goes once checked. The lead is the activity's (a merge moves
    the activity, and with it the wait)."""

    __tablename__ = "inbound_wait"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), unique=True
    )
    since: Mapped[dt.datetime]
    check_at: Mapped[dt.datetime | None] = mapped_column(index=True)

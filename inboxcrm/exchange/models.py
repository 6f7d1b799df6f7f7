"""An import's tables: the file with its mapping, plan and progress (`lead_import`), and
what the import did to each lead, so that it can be undone (`lead_import_row`)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.db import Base, InWorkspace, enum_column


class ImportState(enum.StrEnum):
    mapping = "mapping"  # uploaded: the columns' fields are being chosen
    planned = "planned"  # dry run done: counts and refused rows known
    queued = "queued"  # to run in the background
    running = "running"
    done = "done"
    failed = "failed"
    undoing = "undoing"
    undone = "undone"


class LeadImport(InWorkspace, Base):
    __tablename__ = "lead_import"

    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    # The file's text, zlib-compressed: the clock process reads it, wherever it runs.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    delimiter: Mapped[str] = mapped_column(String(1))
    header: Mapped[list[str]] = mapped_column(JSON)
    mapping: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[ImportState] = mapped_column(enum_column(ImportState))
    rows: Mapped[int] = mapped_column(default=0)  # data rows in the file
    done: Mapped[int] = mapped_column(default=0)  # rows worked (or undone) so far
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    merged: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    # The refused rows, {"row", "reason", "email"}, the first MAX_LISTED of them.
    refusals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Companies the import made: undo removes those left with no lead.
    companies: Mapped[list[int]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    # The queue the imports job drains (running or undoing), claimed with a lease.
    run_at: Mapped[dt.datetime | None]

    __table_args__ = (Index(None, "workspace_id", "created_at"), Index(None, "run_at"))


class ImportedLead(Base):
    """A lead an import made (`made`) or changed: `before` holds what it changed, to put
    back (the columns' old values, the addresses, tags and notes it added, the stage)."""

    __tablename__ = "lead_import_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("lead_import.id", ondelete="CASCADE"))
    lead_id: Mapped[int]  # no foreign key: a lead removed or merged since is skipped
    made: Mapped[bool]
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index(None, "import_id", "id"),)

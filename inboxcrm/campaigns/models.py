from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, utcnow


class EmailTemplate(InWorkspace, Base):
    """A reusable mail-merge template. Its text lives in versions: editing adds one, and a
    campaign keeps the version it sent."""

    __tablename__ = "email_template"

    name: Mapped[str] = mapped_column(String(120))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template",
        cascade="all, delete-orphan",
        order_by="TemplateVersion.number",
    )

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    @property
    def current(self) -> TemplateVersion:
        return self.versions[-1]


class TemplateVersion(InWorkspace, Base):
    """One text of a template, never changed once written: 1, 2, 3 ..."""

    __tablename__ = "template_version"

    template_id: Mapped[int] = mapped_column(ForeignKey("email_template.id", ondelete="CASCADE"))
    number: Mapped[int]
    subject: Mapped[str] = mapped_column(String(2000))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    template: Mapped[EmailTemplate] = relationship(back_populates="versions")

    __table_args__ = (UniqueConstraint("template_id", "number"), Index(None, "workspace_id"))

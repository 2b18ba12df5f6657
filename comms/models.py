"""Announcements to clients and who has read them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class Audience(enum.StrEnum):
    ALL = "all"
    COUNTRIES = "countries"
    """Clients whose country of residence is in the list (ISO codes)."""
    ACCOUNT_TYPES = "account_types"
    """Clients holding a trading account of one of the listed account types (ids)."""
    IBS = "ibs"
    """Clients who are active introducing brokers."""


class AnnouncementStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Announcement(Base):
    """A message staff write for clients: shown in its window, to its audience, in their language."""

    __tablename__ = "comms_announcements"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="window"),
        Index("ix_comms_announcements_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title_en: Mapped[str] = mapped_column(String(200))
    body_en: Mapped[str] = mapped_column(Text)
    title_zh_hans: Mapped[str] = mapped_column(String(200), default="")
    body_zh_hans: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(16))
    audience_values: Mapped[list[str]] = mapped_column(JSON)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AnnouncementRead(Base):
    """When one client first marked one announcement read."""

    __tablename__ = "comms_announcement_reads"

    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("comms_announcements.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    read_at: Mapped[datetime]

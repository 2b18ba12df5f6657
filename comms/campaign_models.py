"""Campaign tables: a campaign, one row per client it mails, and clients' marketing opt-outs."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    """Waits for ``send_at``; the scheduled job starts it then."""
    SENDING = "sending"
    """Recipients are fixed; the sending job works through them at the campaign's rate."""
    SENT = "sent"
    """Every recipient has a final outcome."""
    CANCELLED = "cancelled"


class RecipientStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed by a worker that is talking SMTP; never claimed again, so nobody is mailed twice."""
    DELIVERED = "delivered"
    """The SMTP server accepted the mail (250)."""
    BOUNCED = "bounced"
    """The SMTP server refused the recipient or the mail for good (5xx)."""
    FAILED = "failed"
    """Temporary refusals (4xx) or lost connections until the attempts ran out, or the worker
    stopped mid-conversation (the outcome is unknown, so it is not sent again)."""
    SKIPPED = "skipped"
    """The client had unsubscribed from marketing mail when their turn came."""
    CANCELLED = "cancelled"
    """The campaign was cancelled before this mail was sent."""


FINAL_STATUSES = frozenset(
    {
        RecipientStatus.DELIVERED,
        RecipientStatus.BOUNCED,
        RecipientStatus.FAILED,
        RecipientStatus.SKIPPED,
        RecipientStatus.CANCELLED,
    }
)


class Campaign(Base):
    """A marketing mail to a saved segment, with a subject and body per language."""

    __tablename__ = "comms_campaigns"
    __table_args__ = (Index("ix_comms_campaigns_status_send_at", "status", "send_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    segment_id: Mapped[int | None] = mapped_column(default=None)
    """The CRM segment (``crm_segments.id``); resolved when sending starts."""
    subject_en: Mapped[str] = mapped_column(String(300))
    body_en: Mapped[str] = mapped_column(Text)
    subject_zh_hans: Mapped[str] = mapped_column(String(300), default="")
    body_zh_hans: Mapped[str] = mapped_column(Text, default="")
    mails_per_minute: Mapped[int] = mapped_column(default=60)
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The literal links of the bodies, fixed when sending starts: a click URL names an index in
    this list and redirects only there, so the redirect can't be pointed anywhere else."""
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT)
    send_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(default=None)
    """The staff member whose data scope resolves the segment."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class CampaignRecipient(Base):
    """One client of one campaign, with what happened to their mail."""

    __tablename__ = "comms_campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "client_id"),
        Index("ix_comms_campaign_recipients_campaign_id_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("comms_campaigns.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=RecipientStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    email: Mapped[str] = mapped_column(String(320), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    smtp_code: Mapped[int | None] = mapped_column(default=None)
    smtp_answer: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    clicked_at: Mapped[datetime | None] = mapped_column(default=None)
    clicks: Mapped[int] = mapped_column(default=0)


class MarketingOptOut(Base):
    """A client who wants no marketing mail; transactional mail never looks here."""

    __tablename__ = "comms_marketing_opt_outs"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    opted_out_at: Mapped[datetime]
    campaign_id: Mapped[int | None] = mapped_column(default=None)
    """The campaign whose unsubscribe link was used; ``None`` from the account page."""

"""Webhook endpoints and their deliveries: one delivery per (event, endpoint)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt (``next_attempt_at``)."""
    SENDING = "sending"
    """Claimed by a worker until ``lease_until``; a worker that died leaves it to be taken over."""
    DELIVERED = "delivered"
    """The endpoint answered 2xx."""
    FAILED = "failed"
    """Every attempt of the round failed; staff may replay it."""


class Endpoint(Base):
    """A URL staff registered to receive events of some kinds, signed with its own secret."""

    __tablename__ = "webhooks_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    kinds: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """The signing secret, sealed by :class:`core.secrets_box.SecretsBox` for this endpoint's row."""
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    secret_rotated_at: Mapped[datetime]


class Delivery(Base):
    """One event for one endpoint: its state, its attempts, and what the endpoint last answered."""

    __tablename__ = "webhooks_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        CheckConstraint("status IN ('pending', 'sending', 'delivered', 'failed')", name="status_known"),
        Index("ix_webhooks_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhooks_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("core_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhooks_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    """Every attempt ever made, replays included; also the fence that a late worker can't pass."""
    round_attempts: Mapped[int] = mapped_column(default=0)
    """Attempts since the delivery was made or last replayed; the retry limit counts these."""
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]

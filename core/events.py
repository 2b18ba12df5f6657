"""Domain events: facts about what happened, written in the same transaction as the change.

A service that finishes something other systems care about (a client registered, a deposit was
credited) calls :func:`record_event` with the session it is working in, so the event exists if and
only if the change committed. The payload holds ids and plain facts (amounts in minor units,
currencies, levels), never secrets, documents or free text a person typed.

Events are read by consumers above core (outbound webhooks fan them out to staff-registered
endpoints); ``dispatched_at`` is when the consumer took the event, so a sweep finds new events by
an index instead of a watermark that a late-committing transaction could slip under.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base

UID_PREFIX = "evt_"


class EventKind(enum.StrEnum):
    """Every kind of domain event, named ``<subject>.<what happened>``."""

    CLIENT_REGISTERED = "client.registered"
    KYC_APPROVED = "kyc.approved"
    KYC_REJECTED = "kyc.rejected"
    DEPOSIT_COMPLETED = "deposit.completed"
    WITHDRAWAL_PAID = "withdrawal.paid"
    ACCOUNT_OPENED = "account.opened"
    IB_COMMISSION_PAID = "ib_commission.paid"


class DomainEvent(Base):
    """One thing that happened: its kind, a JSON payload of ids and facts, and when."""

    __tablename__ = "core_events"
    __table_args__ = (Index("ix_core_events_dispatched_at_id", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    """The id receivers see and dedupe on (``evt_`` and 32 hex digits): not guessable, not a count."""
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the webhooks took the event and made its deliveries; ``None`` until then."""


def new_event_uid() -> str:
    return UID_PREFIX + uuid.uuid4().hex


def record_event(session: AsyncSession, kind: EventKind, **payload: Any) -> DomainEvent:
    """Add one event to ``session``: it commits, or rolls back, with the change it describes."""
    event = DomainEvent(uid=new_event_uid(), kind=kind.value, payload=payload, occurred_at=clock.utcnow())
    session.add(event)
    return event

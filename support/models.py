"""Support tickets, their messages and attachments, canned replies and the SLA targets."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class TicketStatus(enum.StrEnum):
    NEW = "new"
    """Opened by the client; nobody from staff has answered yet."""
    OPEN = "open"
    """Being worked, or the client wrote last."""
    WAITING_ON_CLIENT = "waiting_on_client"
    """Staff answered and wait for the client."""
    RESOLVED = "resolved"
    """Staff consider it solved; the client may still reopen it."""
    CLOSED = "closed"
    """Finished; a reply needs a reopen first."""


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketCategory(enum.StrEnum):
    ACCOUNT = "account"
    VERIFICATION = "verification"
    FUNDING = "funding"
    TRADING = "trading"
    PARTNERS = "partners"
    TECHNICAL = "technical"
    OTHER = "other"


class MessageKind(enum.StrEnum):
    CLIENT = "client"
    """Written by the client (portal, API or a mailed reply)."""
    STAFF = "staff"
    """A staff reply the client sees and is mailed."""
    NOTE = "note"
    """A staff-only internal note: never shown or mailed to the client."""


class MessageSource(enum.StrEnum):
    PORTAL = "portal"
    API = "api"
    MAIL = "mail"
    BACKOFFICE = "backoffice"


OPEN_STATUSES = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING_ON_CLIENT})


def _values(enum_type: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum_type)


class SupportTicket(Base):
    """One conversation between a client (or IB) and staff, with its SLA clock."""

    __tablename__ = "support_tickets"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(TicketStatus)})", name="status_known"),
        CheckConstraint(f"priority IN ({_values(TicketPriority)})", name="priority_known"),
        CheckConstraint(f"category IN ({_values(TicketCategory)})", name="category_known"),
        Index("ix_support_tickets_status_priority", "status", "priority"),
        Index("ix_support_tickets_client_id_updated_at", "client_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, default=None)
    reply_token: Mapped[str] = mapped_column(String(64), unique=True)
    """Random part of the ticket's Reply-To address: a mailed reply must name it to thread back."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_due_at: Mapped[datetime]
    resolution_due_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    """Set by the scheduled SLA job when the first staff reply came (or is) too late."""
    resolution_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    """Set by the scheduled SLA job when the ticket was (or is) not resolved in time."""


class TicketMessage(Base):
    """One message of a ticket: the client's, a staff reply, or an internal note."""

    __tablename__ = "support_ticket_messages"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(MessageKind)})", name="kind_known"),
        CheckConstraint(f"source IN ({_values(MessageSource)})", name="source_known"),
        Index("ix_support_ticket_messages_ticket_id_created_at", "ticket_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    mail_message_id: Mapped[str | None] = mapped_column(String(300), unique=True, default=None)
    """The Message-ID of the inbound mail this came from, so a redelivered mail threads once."""
    created_at: Mapped[datetime]


class TicketAttachment(Base):
    """A file attached to a message, checked by content and stored encrypted like KYC documents."""

    __tablename__ = "support_ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("support_ticket_messages.id", ondelete="CASCADE"))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class CannedReply(Base):
    """A prepared answer staff pick when they reply."""

    __tablename__ = "support_canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), unique=True)
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    updated_at: Mapped[datetime]


class SlaTarget(Base):
    """Staff's first-response and resolution targets for one priority (code defaults otherwise)."""

    __tablename__ = "support_sla_targets"
    __table_args__ = (
        CheckConstraint(f"priority IN ({_values(TicketPriority)})", name="priority_known"),
        CheckConstraint(
            "first_response_minutes > 0 AND resolution_minutes >= first_response_minutes", name="sane"
        ),
    )

    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    updated_at: Mapped[datetime]

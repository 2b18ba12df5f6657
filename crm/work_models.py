"""The CRM's work tables: leads (prospects before they are clients), and the notes and tasks staff
keep on clients and leads.

A note or a task belongs to exactly one client or one lead (a CHECK says so). A task's
``reminded_at`` is set in the same transaction that queues its overdue reminder, so a rerun or a
redelivered job mails nobody twice.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base

LEAD_STATUSES = ("new", "contacted", "qualified", "converted", "lost")
LEAD_SOURCES = ("manual", "csv", "registration")
TASK_STATUSES = ("open", "done")
TASK_PRIORITIES = ("low", "normal", "high")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Lead(Base):
    """A prospect: its contact fields, where it came from, who owns it and how far it got.

    ``client_id`` links a lead captured from an unfinished registration to that client, and
    points at the client a converted lead became; one lead per client at most.
    """

    __tablename__ = "crm_leads"
    __table_args__ = (
        CheckConstraint(_one_of("status", LEAD_STATUSES), name="status_known"),
        CheckConstraint(_one_of("source", LEAD_SOURCES), name="source_known"),
        CheckConstraint("status <> 'converted' OR client_id IS NOT NULL", name="converted_has_client"),
        Index("ix_crm_leads_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    """Lower-cased and stripped, like users' emails, so de-duplication is exact."""
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new")
    registration_stage: Mapped[str] = mapped_column(String(24), default="")
    """For leads from unfinished registrations: the first step the client has not done
    (``email_unverified``, ``kyc_unfinished``, ``no_deposit``), or ``finished``."""
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, default=None)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True, default=None
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    converted_at: Mapped[datetime | None] = mapped_column(default=None)


class Note(Base):
    """A staff member's note on a client or a lead; pinned notes are listed first."""

    __tablename__ = "crm_notes"
    __table_args__ = (CheckConstraint("(client_id IS NULL) <> (lead_id IS NULL)", name="one_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_leads.id", ondelete="CASCADE"), index=True, default=None
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    """A follow-up on a client or a lead, due on a day, assigned to a staff member."""

    __tablename__ = "crm_tasks"
    __table_args__ = (
        CheckConstraint("(client_id IS NULL) <> (lead_id IS NULL)", name="one_target"),
        CheckConstraint(_one_of("status", TASK_STATUSES), name="status_known"),
        CheckConstraint(_one_of("priority", TASK_PRIORITIES), name="priority_known"),
        Index("ix_crm_tasks_assignee_id_status_due_on", "assignee_id", "status", "due_on"),
        Index("ix_crm_tasks_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_leads.id", ondelete="CASCADE"), index=True, default=None
    )
    title: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[date] = mapped_column(Date)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    status: Mapped[str] = mapped_column(String(8), default="open")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the overdue reminder was queued; a task is reminded once."""

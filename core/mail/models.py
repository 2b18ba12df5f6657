"""The mail outbox: one row per message, rendered when queued, sent after the commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

QUEUED = "queued"
SENT = "sent"
CAPTURED = "captured"
"""Kept for the dev mailbox because no SMTP server is configured."""
FAILED = "failed"
"""The last attempt failed; the actor retries with backoff."""


class OutboxMail(Base):
    """One outgoing message with its text and HTML bodies and its delivery state."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    holds_secret: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The body carries a one-time secret (a new trading password): once the SMTP server has
    taken it, the stored bodies are blanked, so the secret can't be read back from the outbox."""
    reply_to: Mapped[str] = mapped_column(String(320), default="", server_default="")
    """Where the recipient's answer goes (a support ticket's threading address); empty: no header."""


class MailTemplateOverride(Base):
    """Staff's own version of one mail template in one language, preferred over the file.

    Each part is Jinja source rendered in a sandbox; deleting the row restores the file template.
    """

    __tablename__ = "mail_template_overrides"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    updated_by: Mapped[int | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]

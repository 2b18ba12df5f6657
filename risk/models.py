"""Risk tables: alerts (unique per rule, subject and key), the clients an alert names, each rule's
watermark, and the thresholds staff may override.

An alert's ``(rule, subject, dedup_key)`` is unique, so a rerun of a rule over the same window, or
a redelivered job, finds the alert it raised already and raises nothing new.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Resolution(enum.StrEnum):
    FALSE_POSITIVE = "false_positive"
    CONFIRMED = "confirmed"
    ESCALATED = "escalated"


class RiskAlert(Base):
    """One finding of one rule, for a person to look at, assign and resolve."""

    __tablename__ = "risk_alert"
    __table_args__ = (
        UniqueConstraint("rule", "subject", "dedup_key"),
        Index("ix_risk_alert_status_raised", "status", "raised_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(128))
    """What the alert is about: ``client:12``, ``ip:203.0.113.9``, ``device:<hash>``, ``document:<hash>``."""
    dedup_key: Mapped[str] = mapped_column(String(128))
    """What makes this finding itself within its subject: ``withdrawal:7``, ``day:2026-12-01``, …"""
    client_id: Mapped[int | None] = mapped_column(index=True)
    """The client the alert is mainly about, when there is one; all of them are in ``risk_alert_client``."""
    summary: Mapped[str] = mapped_column(String(300))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.OPEN)
    assignee_id: Mapped[int | None] = mapped_column(index=True)
    resolution: Mapped[str | None] = mapped_column(String(24))
    resolution_comment: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[int | None]
    resolved_at: Mapped[datetime | None]
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskAlertClient(Base):
    """A client an alert names (several for a shared IP, device or document)."""

    __tablename__ = "risk_alert_client"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("risk_alert.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    client_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, index=True)


class RiskRuleState(Base):
    """Per rule: how far it has scanned (its watermark) and how its last run went."""

    __tablename__ = "risk_rule_state"

    rule: Mapped[str] = mapped_column(String(40), primary_key=True)
    watermark: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_raised: Mapped[int] = mapped_column(default=0)


class RiskConfigRow(Base):
    """Thresholds that differ from :class:`risk.config.RiskConfig`'s defaults, as one JSON document."""

    __tablename__ = "risk_config"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

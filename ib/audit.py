"""The IB audit trail: every change to partners, the tree, attribution, schemes and payouts goes
into the shared audit log (:mod:`core.audit`), in the same transaction as the change itself.

IB services name their actor as ``"<kind>:<id>"`` (``"staff:7"``, ``"client:3"``, ``"system"``)
and their subject as ``"<type>:<id>"`` (``"partner:3"``); both are split into the log's columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, audit_event


def _actor(label: str) -> Actor:
    kind, _, raw_id = label.partition(":")
    return Actor(id=int(raw_id) if raw_id.isdigit() else None, kind=kind or "system")


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Add one event (``actor`` like ``"staff:7"``, ``subject`` like ``"partner:3"``)."""
    target_type, _, target_id = subject.partition(":")
    details = {**(after or {}), "reason": reason} if reason else after
    event = audit_event(
        _actor(actor), action, target_type=target_type, target_id=target_id, before=before, after=details
    )
    event.occurred_at = now
    session.add(event)

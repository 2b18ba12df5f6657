"""The IB audit trail: every change made to partners, the tree, attribution, schemes and payouts.

There is no shared audit log in ``core`` yet, so IB keeps its own append-only table; the service
that makes a change writes its event in the same transaction, so a change never goes unrecorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import AuditEvent


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
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            subject=subject,
            before=before,
            after=after,
            reason=reason,
            created_at=now,
        )
    )

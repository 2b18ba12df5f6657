"""Expire pending transfers whose timeout has passed, releasing the money they reserved.

A scheduler calls :func:`expire_due_pending` periodically. The key of each expiry is derived from
the pending transfer's id, so two schedulers (or a retried job) expire a transfer exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import aliased

from core.clock import utcnow
from core.db import Database
from ledger.models import Transfer
from ledger.posting import post
from ledger.requests import Journal, TransferResult, expire_pending

EXPIRY_BATCH = 1000


def expiry_key(pending_id: int) -> str:
    return f"ledger:expire:{pending_id}"


async def expire_due_pending(
    db: Database, *, now: datetime | None = None, limit: int = EXPIRY_BATCH
) -> list[TransferResult]:
    """Post an expiry for up to ``limit`` unresolved pending transfers timed out by ``now``."""
    moment = (now or utcnow()).astimezone(UTC)
    resolution = aliased(Transfer)
    async with db.engine.connect() as connection:
        due = (
            (
                await connection.execute(
                    select(Transfer.id)
                    .where(
                        Transfer.kind == "pending",
                        Transfer.timeout_at.is_not(None),
                        Transfer.timeout_at <= moment,
                        ~exists().where(and_(resolution.pending_id == Transfer.id)),
                    )
                    .order_by(Transfer.id)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    if not due:
        return []
    journals = [
        Journal([expire_pending(expiry_key(pending_id), pending_id=pending_id)]) for pending_id in due
    ]
    return await post(db, journals, now=moment)

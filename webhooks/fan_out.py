"""Fanning events out: one delivery row for each new event and each endpoint that wants its kind.

An event is taken once: a compare-and-set on ``dispatched_at`` (``NULL`` → now) decides which
sweep takes it, so two workers sweeping at the same moment never make a delivery twice, and the
unique ``(event, endpoint)`` pair guards the rows themselves. An endpoint receives the events that
happened while it was registered and enabled, never older history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from core.db import Database
from core.events import DomainEvent
from webhooks.models import Delivery, DeliveryStatus, Endpoint

BATCH = 500


async def has_new_events(db: Database) -> bool:
    """A read alone, so an idle sweep (every few seconds) never takes SQLite's write lock."""
    async with db.session() as session:
        found = await session.scalar(
            select(DomainEvent.id).where(DomainEvent.dispatched_at.is_(None)).limit(1)
        )
    return found is not None


async def fan_out_new_events(session: AsyncSession, now: datetime, limit: int = BATCH) -> int:
    """Make the deliveries of up to ``limit`` undispatched events; returns how many were made.

    The statement that takes the events is the transaction's first, and a write: on SQLite a read
    first would have to upgrade its lock later, which fails at once when another writer got in.
    """
    oldest = (
        select(DomainEvent.id)
        .where(DomainEvent.dispatched_at.is_(None))
        .order_by(DomainEvent.id)
        .limit(limit)
    )
    taken = (
        await session.execute(
            update(DomainEvent)
            .where(DomainEvent.id.in_(oldest), DomainEvent.dispatched_at.is_(None))
            .values(dispatched_at=now)
            .returning(DomainEvent.id, DomainEvent.kind, DomainEvent.occurred_at)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not taken:
        return 0
    endpoints = list(await session.scalars(select(Endpoint).where(Endpoint.enabled.is_(True))))
    made = 0
    for event in sorted(taken, key=lambda row: row.id):
        for endpoint in endpoints:
            if event.kind in endpoint.kinds and as_utc(endpoint.created_at) <= as_utc(event.occurred_at):
                session.add(
                    Delivery(
                        event_id=event.id,
                        endpoint_id=endpoint.id,
                        status=DeliveryStatus.PENDING,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                made += 1
    await session.flush()
    return made

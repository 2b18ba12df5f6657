"""The delivery log staff read, and replay: a new attempt of the same event, in a fresh round."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from core.clock import as_utc
from core.events import DomainEvent
from core.jobs import enqueue_after_commit
from webhooks.delivery import SEND_ACTOR
from webhooks.errors import DeliveryNotFoundError
from webhooks.models import Delivery, DeliveryStatus


@dataclass(frozen=True)
class DeliveryLine:
    """A delivery as the log shows it, with its event."""

    delivery: Delivery
    event_uid: str
    event_kind: str
    occurred_at: datetime


async def delivery_log(
    session: AsyncSession, endpoint_id: int, status: str = "", limit: int = 200
) -> Sequence[DeliveryLine]:
    """One endpoint's deliveries, newest first, optionally of one status."""
    query = _lines().where(Delivery.endpoint_id == endpoint_id)
    if status:
        query = query.where(Delivery.status == status)
    rows = (await session.execute(query.order_by(Delivery.id.desc()).limit(limit))).all()
    return [DeliveryLine(row[0], row[1], row[2], as_utc(row[3])) for row in rows]


async def delivery_line(session: AsyncSession, delivery_id: int) -> DeliveryLine:
    row = (await session.execute(_lines().where(Delivery.id == delivery_id))).one()
    return DeliveryLine(row[0], row[1], row[2], as_utc(row[3]))


def _lines() -> Select[Delivery, str, str, datetime]:
    return select(Delivery, DomainEvent.uid, DomainEvent.kind, DomainEvent.occurred_at).join(
        DomainEvent, DomainEvent.id == Delivery.event_id
    )


async def replay(session: AsyncSession, endpoint_id: int, delivery_id: int, actor: Actor) -> Delivery:
    """A new attempt of the same event (same id, so the receiver can dedupe), in a fresh round of
    retries; sent by a job once this transaction commits."""
    delivery = await session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise DeliveryNotFoundError(f"no delivery {delivery_id} for endpoint {endpoint_id}")
    before = {"status": delivery.status, "attempts": delivery.attempts}
    now = clock.utcnow()
    delivery.status = DeliveryStatus.PENDING
    delivery.round_attempts = 0
    delivery.next_attempt_at = now
    delivery.lease_until = None
    await record_audit(
        session,
        actor,
        "webhooks.delivery_replayed",
        target_type="webhook_delivery",
        target_id=delivery.id,
        before=before,
        after={"status": delivery.status, "endpoint_id": endpoint_id},
    )
    enqueue_after_commit(session, SEND_ACTOR, delivery.id)
    return delivery

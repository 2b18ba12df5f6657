"""Sending deliveries: signed POSTs with retries and backoff, every network call outside a transaction.

1. **Claim** in a short transaction: a compare-and-set moves a due ``pending`` row (or a
   ``sending`` row whose lease ran out because its worker died) to ``sending`` and bumps
   ``attempts``; the same transaction reads the event and opens the endpoint's secret.
2. **Send** with no transaction open: one POST of the event's body, signed over
   ``"<timestamp>.<body>"`` (:mod:`webhooks.signing`), redirects not followed.
3. **Record** in another short transaction, fenced on ``attempts`` so a worker that lost its lease
   can't overwrite the one that took over: delivered on a 2xx answer; otherwise back to pending
   after a backoff that doubles per attempt, or failed once the round's attempts are used up.

A receiver may see an event more than once (an answer lost after it was processed, a replay); the
event id in the ``BrokerDesk-Event-Id`` header is the same every time, so it dedupes on that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import ColumnElement, and_, or_, select, update

from core import clock
from core.clock import as_utc
from core.db import Database
from core.events import DomainEvent
from core.secrets_box import SealedSecretError, SecretsBox
from webhooks.endpoints import open_secret
from webhooks.fan_out import fan_out_new_events, has_new_events
from webhooks.models import Delivery, DeliveryStatus, Endpoint
from webhooks.signing import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    EVENT_KIND_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    event_body,
    signature,
)

logger = logging.getLogger(__name__)

SEND_ACTOR = "webhooks.send_delivery"
"""The job that sends one delivery now (a replay); the schedule's sweep finds the rest."""
ERROR_LIMIT = 500
ANSWER_EXCERPT = 200
USER_AGENT = "BrokerDesk-Webhooks/1"
UNREADABLE_KEY_MESSAGE = (
    "The endpoint's signing key can't be opened (was the storage key changed?): rotate the secret."
)


@dataclass(frozen=True)
class DeliveryPolicy:
    """Timing of deliveries."""

    max_attempts: int = 8
    """Attempts per round (a replay starts a new round); after the last, the delivery is failed."""
    backoff_base: timedelta = timedelta(seconds=30)
    """Wait after the first failed attempt; doubled per attempt up to ``backoff_max``."""
    backoff_max: timedelta = timedelta(hours=2)
    timeout_seconds: float = 10.0
    """How long one POST may take, connection included; a timeout is a failed attempt."""
    lease: timedelta = timedelta(minutes=2)
    """How long a claim holds; longer than any POST, so only a dead worker's claim is taken over."""
    concurrency: int = 4

    def backoff(self, round_attempts: int) -> timedelta:
        delay = self.backoff_base * (1 << min(max(0, round_attempts - 1), 20))
        return min(delay, self.backoff_max)


DEFAULT_POLICY = DeliveryPolicy()


@dataclass(frozen=True)
class ClaimedDelivery:
    """What one attempt needs, read while the delivery was claimed."""

    id: int
    attempts: int
    round_attempts: int
    url: str
    secret: str | None
    """``None`` when the sealed secret no longer opens (the storage key changed): the attempt fails
    with a message saying to rotate it, rather than failing the whole sweep."""
    event_uid: str
    event_kind: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class SweepResult:
    fanned_out: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    statuses: dict[int, str] = field(default_factory=dict)


def _due(now: datetime) -> ColumnElement[bool]:
    enabled = select(Endpoint.id).where(Endpoint.enabled.is_(True))
    return and_(
        Delivery.endpoint_id.in_(enabled),
        or_(
            and_(Delivery.status == DeliveryStatus.PENDING.value, Delivery.next_attempt_at <= now),
            and_(Delivery.status == DeliveryStatus.SENDING.value, Delivery.lease_until < now),
        ),
    )


async def claim(
    db: Database, box: SecretsBox, delivery_id: int, policy: DeliveryPolicy, now: datetime
) -> ClaimedDelivery | None:
    """Take the delivery for this worker, or ``None`` when it isn't due or another worker holds it."""
    async with db.transaction() as session:
        row = (
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, _due(now))
                .values(
                    status=DeliveryStatus.SENDING,
                    attempts=Delivery.attempts + 1,
                    round_attempts=Delivery.round_attempts + 1,
                    lease_until=now + policy.lease,
                    last_attempt_at=now,
                )
                .returning(
                    Delivery.attempts, Delivery.round_attempts, Delivery.event_id, Delivery.endpoint_id
                )
                .execution_options(synchronize_session=False)
            )
        ).first()
        if row is None:
            return None
        event = await session.get_one(DomainEvent, row.event_id)
        endpoint = await session.get_one(Endpoint, row.endpoint_id)
        try:
            secret: str | None = open_secret(box, endpoint)
        except SealedSecretError:
            secret = None
        return ClaimedDelivery(
            id=delivery_id,
            attempts=row.attempts,
            round_attempts=row.round_attempts,
            url=endpoint.url,
            secret=secret,
            event_uid=event.uid,
            event_kind=event.kind,
            body=event_body(
                event.uid, event.kind, as_utc(event.occurred_at).isoformat(), dict(event.payload)
            ),
        )


def signed_headers(claimed: ClaimedDelivery, secret: str, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: claimed.event_uid,
        EVENT_KIND_HEADER: claimed.event_kind,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, claimed.body),
        ATTEMPT_HEADER: str(claimed.attempts),
    }


async def send(client: httpx.AsyncClient, claimed: ClaimedDelivery) -> Outcome:
    """One POST; any answer or transport failure becomes an :class:`Outcome`, never an exception."""
    if claimed.secret is None:
        return Outcome(None, UNREADABLE_KEY_MESSAGE)
    headers = signed_headers(claimed, claimed.secret, int(time.time()))
    try:
        answer = await client.post(claimed.url, content=claimed.body, headers=headers)
    except httpx.TimeoutException:
        return Outcome(None, "timed out")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT])
    if 200 <= answer.status_code < 300:
        return Outcome(answer.status_code, "")
    excerpt = " ".join(answer.text[:ANSWER_EXCERPT].split())
    return Outcome(answer.status_code, f"HTTP {answer.status_code}: {excerpt}"[:ERROR_LIMIT])


async def record(
    db: Database, claimed: ClaimedDelivery, outcome: Outcome, policy: DeliveryPolicy, now: datetime
) -> str | None:
    """Store what the attempt got; ``None`` when another worker took the delivery over meanwhile."""
    values: dict[str, object] = {
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "lease_until": None,
    }
    if outcome.ok:
        status = DeliveryStatus.DELIVERED
        values.update(status=status, delivered_at=now, next_attempt_at=None)
    elif claimed.round_attempts >= policy.max_attempts:
        status = DeliveryStatus.FAILED
        values.update(status=status, next_attempt_at=None)
    else:
        status = DeliveryStatus.PENDING
        values.update(status=status, next_attempt_at=now + policy.backoff(claimed.round_attempts))
    async with db.transaction() as session:
        result = await session.execute(
            update(Delivery)
            .where(
                Delivery.id == claimed.id,
                Delivery.attempts == claimed.attempts,
                Delivery.status == DeliveryStatus.SENDING.value,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if getattr(result, "rowcount", 0) != 1:
        logger.warning("webhook delivery %s was taken over during attempt %s", claimed.id, claimed.attempts)
        return None
    if not outcome.ok:
        logger.info(
            "webhook delivery %s attempt %s: %s -> %s", claimed.id, claimed.attempts, outcome.error, status
        )
    return status.value


ClientFactory = Callable[[DeliveryPolicy], httpx.AsyncClient]


def default_client(policy: DeliveryPolicy) -> httpx.AsyncClient:
    """No redirects (a 3xx is an answer, not a new address to sign for) and no proxies from the
    environment: deliveries go exactly where staff registered them."""
    return httpx.AsyncClient(timeout=policy.timeout_seconds, follow_redirects=False, trust_env=False)


async def deliver(
    db: Database,
    box: SecretsBox,
    client: httpx.AsyncClient,
    delivery_id: int,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> str | None:
    """Claim, send, record one delivery; ``None`` when it wasn't due or was someone else's."""
    now = now or clock.utcnow()
    claimed = await claim(db, box, delivery_id, policy, now)
    if claimed is None:
        return None
    outcome = await send(client, claimed)
    return await record(db, claimed, outcome, policy, now)


async def due_delivery_ids(db: Database, now: datetime, limit: int = 500) -> list[int]:
    async with db.session() as session:
        ids = await session.scalars(select(Delivery.id).where(_due(now)).order_by(Delivery.id).limit(limit))
        return list(ids)


async def deliver_due(
    db: Database,
    box: SecretsBox,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
    client_factory: ClientFactory = default_client,
) -> SweepResult:
    """The schedule's sweep: fan new events out, then attempt every due delivery, a few at a time."""
    now = now or clock.utcnow()
    result = SweepResult()
    if await has_new_events(db):
        async with db.transaction() as session:
            result.fanned_out = await fan_out_new_events(session, now)
    ids = await due_delivery_ids(db, now)
    if not ids:
        return result
    gate = asyncio.Semaphore(policy.concurrency)
    async with client_factory(policy) as client:

        async def one(delivery_id: int) -> None:
            async with gate:
                status = await deliver(db, box, client, delivery_id, policy, now)
            if status is not None:
                result.statuses[delivery_id] = status

        await asyncio.gather(*(one(delivery_id) for delivery_id in ids))
    for status in result.statuses.values():
        if status == DeliveryStatus.DELIVERED:
            result.delivered += 1
        elif status == DeliveryStatus.FAILED:
            result.failed += 1
        else:
            result.retrying += 1
    return result


async def send_one(
    db: Database,
    box: SecretsBox,
    delivery_id: int,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    client_factory: ClientFactory = default_client,
) -> str | None:
    """The replay job: one attempt now, if the delivery is still due."""
    async with client_factory(policy) as client:
        return await deliver(db, box, client, delivery_id, policy)

"""Broker setup: Redis when ``REDIS_URL`` is set, otherwise in-process for the demo and tests.

Both brokers get the AsyncIO middleware, so actors may be ``async def``, and the dead-letter
middleware, so a job that runs out of retries lands in ``core.dead_letters`` for the back office.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.asyncio import AsyncIO

from core.settings import Settings
from workers.dead_letters import DeadLetters

RETRY_MIN_BACKOFF_MS = 1_000
RETRY_MAX_BACKOFF_MS = 5 * 60_000
MAX_RETRIES = 8


def create_broker(settings: Settings, namespace: str = "brokerdesk") -> dramatiq.Broker:
    """Build the broker for these settings and make it Dramatiq's global broker."""
    broker: dramatiq.Broker
    if settings.uses_redis:
        broker = RedisBroker(url=settings.redis_url, namespace=namespace)  # type: ignore[no-untyped-call]
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(AsyncIO())
    # Before Retries in the list: Dramatiq runs after-hooks in reverse, so this one sees the message
    # once Retries has decided whether it failed for good.
    broker.add_middleware(DeadLetters(), before=dramatiq.middleware.Retries)
    for middleware in broker.middleware:
        if isinstance(middleware, dramatiq.middleware.Retries):
            middleware.max_retries = MAX_RETRIES
            middleware.min_backoff = RETRY_MIN_BACKOFF_MS
            middleware.max_backoff = RETRY_MAX_BACKOFF_MS
    dramatiq.set_broker(broker)
    return broker

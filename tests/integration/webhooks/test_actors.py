"""The webhook actors run through the worker runtime: the scheduled sweep (every 5 seconds) fans an
event out and delivers it, the replay job sends one delivery, and a redelivery of either sends nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.audit.service import SYSTEM
from core.db import Database
from core.events import EventKind, record_event
from core.secrets_box import SecretsBox
from core.settings import Settings
from tests.integration.webhooks.receiver import running_receiver
from tests.worker_actors import actors_on_a_fresh_broker
from webhooks.endpoints import EndpointInput, create_endpoint
from webhooks.models import Delivery
from workers import runtime
from workers.scheduler import SCHEDULES

pytestmark = pytest.mark.asyncio


@pytest.fixture
def actors(settings: Settings, db: Database) -> Iterator[object]:
    module = actors_on_a_fresh_broker()
    previous = runtime._runtime
    runtime.install(runtime.WorkerRuntime(settings=settings, database=db))
    yield module
    runtime._runtime = previous


async def test_the_sweep_and_the_replay_job_deliver_through_the_worker(
    db: Database, settings: Settings, actors: object
) -> None:
    [schedule] = [s for s in SCHEDULES if s.actor_name == "webhooks.deliver_due"]
    assert schedule.every_seconds == 5
    with running_receiver(fail_first=False) as receiver:
        async with db.transaction() as session:
            issued = await create_endpoint(
                session,
                SecretsBox.from_settings(settings),
                EndpointInput(url=receiver.url, description="", kinds=("kyc.approved",), enabled=True),
                SYSTEM,
            )
        receiver.secret = issued.secret
        async with db.transaction() as session:
            record_event(session, EventKind.KYC_APPROVED, client_id=5, level="full")
        await actors.deliver_due_webhooks.fn.__wrapped__()  # type: ignore[attr-defined]
        await actors.deliver_due_webhooks.fn.__wrapped__()  # type: ignore[attr-defined]
        async with db.session() as session:
            [delivery] = list(await session.scalars(select(Delivery)))
        assert (delivery.status, delivery.attempts) == ("delivered", 1)
        await actors.send_webhook_delivery.fn.__wrapped__(delivery.id)  # type: ignore[attr-defined]
        assert len(receiver.hits) == 1  # delivered is not due: a stray replay job sends nothing
        assert receiver.processed == [receiver.hits[0].event_id]

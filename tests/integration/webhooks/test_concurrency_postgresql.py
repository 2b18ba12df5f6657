"""Sweeps running at once (the schedule's and a slow earlier one) fan each event out once and send
each delivery once between them: the compare-and-set claims hold under real parallel connections."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.audit.service import SYSTEM
from core.db import Database
from core.events import EventKind, record_event
from core.secrets_box import SecretsBox
from core.settings import Settings
from tests.conftest import BACKEND
from tests.integration.webhooks.receiver import running_receiver
from webhooks.delivery import deliver_due
from webhooks.endpoints import EndpointInput, create_endpoint
from webhooks.models import Delivery, DeliveryStatus

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]


async def test_parallel_sweeps_send_each_event_once(db: Database, settings: Settings) -> None:
    box = SecretsBox.from_settings(settings)
    with running_receiver(fail_first=False) as receiver:
        async with db.transaction() as session:
            issued = await create_endpoint(
                session,
                box,
                EndpointInput(url=receiver.url, description="", kinds=("deposit.completed",), enabled=True),
                SYSTEM,
            )
        receiver.secret = issued.secret
        async with db.transaction() as session:
            for n in range(12):
                record_event(
                    session, EventKind.DEPOSIT_COMPLETED, deposit_id=n, amount=100 * n, currency="USD"
                )

        results = await asyncio.gather(*(deliver_due(db, box) for _ in range(4)))

        assert sum(result.fanned_out for result in results) == 12
        assert sum(result.delivered for result in results) == 12
        assert len(receiver.hits) == 12
        assert len({hit.event_id for hit in receiver.hits}) == 12
        assert all(hit.signature_ok and hit.answered == 200 for hit in receiver.hits)
    async with db.session() as session:
        statuses = dict(
            (await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))).all()
        )
        attempts = await session.scalar(select(func.sum(Delivery.attempts)))
    assert statuses == {DeliveryStatus.DELIVERED.value: 12}
    assert attempts == 12

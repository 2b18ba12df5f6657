"""The real actors on an in-process broker and worker: the scheduled ``comms.send_due_campaigns``
starts a due campaign and sends ``comms.send_campaign``, which mails the segment over SMTP."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import pytest

from comms.campaign_models import Campaign
from core import clock
from core.db import Database
from core.settings import Settings
from tests.integration.comms.conftest import Mailbox
from tests.integration.comms.helpers import act, add_clients, create_campaign, recipients, save_segment
from tests.integration.settings.conftest import StaffFactory
from workers.scheduler import SCHEDULES

pytestmark = pytest.mark.asyncio


async def test_the_scheduled_job_sends_a_due_campaign_through_the_broker(
    staff_as: StaffFactory,
    db: Database,
    settings: Settings,
    smtp_settings: Settings,
    mailbox: tuple[Mailbox, int],
) -> None:
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from workers import runtime
    from workers.broker import create_broker

    assert any(s.actor_name == "comms.send_due_campaigns" and s.every_seconds <= 60 for s in SCHEDULES)
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, "w1@worker.test", "w2@worker.test")
    campaign_id = await create_campaign(staff, await save_segment(staff, "Worker", "worker.test"))
    assert (await act(staff, campaign_id, "schedule", send_at="2099-01-01T09:00")).status_code == 303
    async with db.transaction() as session:
        (await session.get_one(Campaign, campaign_id)).send_at = clock.utcnow() - timedelta(seconds=1)

    broker = create_broker(smtp_settings)
    assert isinstance(broker, StubBroker)
    worker_db = Database.from_url(smtp_settings.database_url)
    runtime.install(runtime.WorkerRuntime(settings=smtp_settings, database=worker_db))
    sys.modules.pop("workers.actors", None)
    import workers.actors

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        workers.actors.send_due_campaigns.send()
        await asyncio.to_thread(broker.join, "default", timeout=20_000)
        await asyncio.to_thread(worker.join)
    finally:
        worker.stop()
        await worker_db.dispose()
    assert sorted(m["To"] for m in mailbox[0].messages) == ["w1@worker.test", "w2@worker.test"]
    assert {row.status for row in (await recipients(db, campaign_id)).values()} == {"delivered"}
    async with db.session() as session:
        assert (await session.get_one(Campaign, campaign_id)).status == "sent"

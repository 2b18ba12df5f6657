"""Jobs that run out of retries land in the dead letters, through the real worker path (the stub
broker of the in-process worker, and Redis); staff retry or discard them, audited."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import dramatiq
import pytest
from litestar.testing import AsyncTestClient
from redis import Redis
from sqlalchemy import select

from core import jobs
from core.audit.models import AuditEvent
from core.db import Database
from core.dead_letters import DeadLetter, FailedMessage, record_dead_letter
from core.settings import Settings
from tests.helpers import make_staff, staff_sign_in, submit
from workers import runtime
from workers.broker import create_broker
from workers.in_process import start_worker

pytestmark = pytest.mark.asyncio


class PaymentGatewayDown(RuntimeError):
    pass


def declare_failing(broker: dramatiq.Broker, max_retries: int) -> dramatiq.Actor:  # type: ignore[type-arg]
    async def settle_payout(payout_id: int, note: str = "") -> None:
        raise PaymentGatewayDown(f"gateway refused payout {payout_id}")

    return dramatiq.actor(
        settle_payout,
        actor_name="tests.settle_payout",
        broker=broker,
        max_retries=max_retries,
        min_backoff=10,
        max_backoff=20,
    )


async def wait_for_dead_letter(db: Database, seconds: float = 20) -> DeadLetter:
    for _ in range(int(seconds * 10)):
        async with db.session() as session:
            row = await session.scalar(select(DeadLetter))
        if row is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError("no dead letter was recorded")


@pytest.fixture
def redis_cleanup(redis_url: str, redis_namespace: str) -> Iterator[None]:
    yield
    client = Redis.from_url(redis_url)
    for key in client.scan_iter(f"{redis_namespace}*"):
        client.delete(key)
    client.close()


@pytest.mark.parametrize("broker_kind", ["in_process", "redis"])
async def test_a_job_out_of_retries_is_recorded(
    db: Database,
    settings: Settings,
    broker_kind: str,
    redis_url: str,
    redis_namespace: str,
    redis_cleanup: None,
) -> None:
    worker_settings = (
        Settings(env="test", redis_url=redis_url) if broker_kind == "redis" else Settings(env="test")
    )
    broker = create_broker(worker_settings, namespace=redis_namespace)
    worker_db = Database.from_url(settings.database_url)  # the worker's own loop and connections
    runtime.install(runtime.WorkerRuntime(settings=settings, database=worker_db))
    actor = declare_failing(broker, max_retries=1)
    worker = start_worker(broker, threads=1)
    try:
        actor.send(42, note="december")
        row = await wait_for_dead_letter(db)
    finally:
        worker.stop()
        broker.close()
        await worker_db.dispose()
    assert row.actor_name == "tests.settle_payout"
    assert row.args == [42]
    assert row.kwargs == {"note": "december"}
    assert row.retries == 1  # one retry after the first attempt, then Dramatiq gave up
    assert row.error.startswith("PaymentGatewayDown: gateway refused payout 42")
    assert "Traceback" in row.error
    assert row.status == "dead"


async def test_a_job_that_succeeds_on_retry_is_not_recorded(db: Database, settings: Settings) -> None:
    broker = create_broker(Settings(env="test"))
    worker_db = Database.from_url(settings.database_url)
    runtime.install(runtime.WorkerRuntime(settings=settings, database=worker_db))
    attempts: list[int] = []

    async def flaky(value: int) -> None:
        attempts.append(value)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    actor = dramatiq.actor(
        flaky, actor_name="tests.flaky", broker=broker, max_retries=3, min_backoff=10, max_backoff=20
    )
    worker = start_worker(broker, threads=1)
    try:
        actor.send(7)
        await asyncio.to_thread(broker.join, actor.queue_name, timeout=10_000)
        await asyncio.to_thread(worker.join)
    finally:
        worker.stop()
        await worker_db.dispose()
    assert attempts == [7, 7]
    async with db.session() as session:
        assert await session.scalar(select(DeadLetter)) is None


async def seed_dead(db: Database) -> int:
    return await record_dead_letter(
        db,
        FailedMessage("m-1", "default", "core.send_mail", (17,), {}, 8, "SMTPError: connection refused"),
    )


async def test_the_same_job_failing_again_is_counted_not_stored_twice(db: Database) -> None:
    first = await seed_dead(db)
    again = await seed_dead(db)
    other = await record_dead_letter(db, FailedMessage("m-2", "default", "core.send_mail", (18,), {}, 8, "x"))
    async with db.session() as session:
        rows = {row.id: row for row in await session.scalars(select(DeadLetter))}
    assert again == first
    assert other != first
    assert rows[first].occurrences == 2
    assert rows[other].occurrences == 1
    assert rows[first].failed_at >= rows[first].first_failed_at


async def test_staff_retry_resends_by_actor_name_and_is_audited(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, sent_jobs: list[jobs.Job]
) -> None:
    dead_id = await seed_dead(db)
    _, secret = await make_staff(db, settings, "ops@staff.test", ["admin"])
    assert secret
    await staff_sign_in(backoffice_client, "ops@staff.test", secret)
    page = await backoffice_client.get("/jobs/dead")
    assert page.status_code == 200
    assert "core.send_mail" in page.text
    assert "SMTPError: connection refused" in page.text
    response = await submit(backoffice_client, "/jobs/dead", f"/jobs/dead/{dead_id}/retry", {})
    assert response.status_code == 303
    assert sent_jobs == [jobs.Job("core.send_mail", (17,), {})]
    again = await submit(backoffice_client, "/jobs/dead", f"/jobs/dead/{dead_id}/retry", {})
    assert again.status_code == 303
    assert len(sent_jobs) == 1  # a handled dead letter is not sent twice
    listing = await backoffice_client.get("/jobs/dead")
    assert "was already retried" in listing.text
    assert f'data-id="{dead_id}"' not in listing.text
    async with db.session() as session:
        row = await session.get_one(DeadLetter, dead_id)
        events = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "jobs.dead_letter_retried"))
        )
    assert row.status == "retried"
    assert row.resolved_by == "ops@staff.test"
    [event] = events
    assert event.before is not None
    assert event.before["status"] == "dead"
    assert event.after is not None
    assert event.after["status"] == "retried"
    assert event.actor_email == "ops@staff.test"
    assert event.target_id == str(dead_id)


async def test_staff_discard_sends_nothing_and_is_audited(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, sent_jobs: list[jobs.Job]
) -> None:
    dead_id = await seed_dead(db)
    _, secret = await make_staff(db, settings, "ops@staff.test", ["admin"])
    assert secret
    await staff_sign_in(backoffice_client, "ops@staff.test", secret)
    response = await submit(backoffice_client, "/jobs/dead", f"/jobs/dead/{dead_id}/discard", {})
    assert response.status_code == 303
    assert sent_jobs == []
    async with db.session() as session:
        row = await session.get_one(DeadLetter, dead_id)
        [event] = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "jobs.dead_letter_discarded"))
        )
    assert row.status == "discarded"
    assert event.after is not None
    assert event.after["status"] == "discarded"
    discarded = await backoffice_client.get("/jobs/dead?status=discarded")
    assert f'data-id="{dead_id}"' in discarded.text


async def test_dead_letters_page_needs_jobs_manage(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient
) -> None:
    _, secret = await make_staff(db, settings, "finance@staff.test", ["finance"])
    assert secret
    await staff_sign_in(backoffice_client, "finance@staff.test", secret)
    assert (await backoffice_client.get("/jobs/dead")).status_code == 403

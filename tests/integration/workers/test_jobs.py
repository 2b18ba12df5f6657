"""Jobs leave only after their transaction commits, and workers run async actors."""

from __future__ import annotations

import threading

import dramatiq
import pytest
from redis import Redis
from sqlalchemy import text

from core import jobs
from core.db import Database
from core.settings import Settings
from workers.broker import create_broker
from workers.in_process import start_worker
from workers.scheduler import Schedule, Scheduler


async def test_committed_transaction_sends_its_jobs(db: Database, sent_jobs: list[jobs.Job]) -> None:
    async with db.transaction() as session:
        await session.execute(text("SELECT 1"))
        jobs.enqueue_after_commit(session, "core.send_mail", 42)
        assert sent_jobs == []  # nothing leaves before the commit
    assert sent_jobs == [jobs.Job("core.send_mail", (42,), {})]


async def test_rolled_back_transaction_sends_nothing(db: Database, sent_jobs: list[jobs.Job]) -> None:
    async def failing_service() -> None:
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
            jobs.enqueue_after_commit(session, "core.send_mail", 42)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing_service()
    assert sent_jobs == []

    async with db.transaction() as session:  # the dropped job does not linger in a later session
        await session.execute(text("SELECT 1"))
    assert sent_jobs == []


async def test_explicit_rollback_then_commit_sends_only_the_later_job(
    db: Database, sent_jobs: list[jobs.Job]
) -> None:
    async with db.session() as session:
        await session.begin()
        jobs.enqueue_after_commit(session, "core.first_job", 1)
        await session.rollback()
        await session.begin()
        jobs.enqueue_after_commit(session, "core.second_job", 2)
        await session.commit()
    assert [job.actor_name for job in sent_jobs] == ["core.second_job"]


def _declare_recorder(broker: dramatiq.Broker, seen: list[int], done: threading.Event) -> None:
    async def record_value(value: int) -> None:
        seen.append(value)
        done.set()

    dramatiq.actor(record_value, actor_name="tests.record_value", broker=broker)


async def test_in_process_worker_runs_async_actor_after_commit(db: Database) -> None:
    broker = create_broker(Settings(env="test"))
    seen: list[int] = []
    done = threading.Event()
    _declare_recorder(broker, seen, done)
    worker = start_worker(broker, threads=1)
    try:
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
            jobs.enqueue_after_commit(session, "tests.record_value", 7)
        assert done.wait(10), "the worker did not run the actor"
        assert seen == [7]
    finally:
        worker.stop()


async def test_redis_broker_carries_jobs_to_a_worker(
    db: Database, redis_url: str, redis_namespace: str
) -> None:
    broker = create_broker(Settings(env="test", redis_url=redis_url), namespace=redis_namespace)
    seen: list[int] = []
    done = threading.Event()
    _declare_recorder(broker, seen, done)
    worker = start_worker(broker, threads=1)
    try:
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
            jobs.enqueue_after_commit(session, "tests.record_value", 11)
        assert done.wait(15), "the Redis worker did not run the actor"
        assert seen == [11]
    finally:
        worker.stop()
        broker.close()
        client = Redis.from_url(redis_url)
        for key in client.scan_iter(f"{redis_namespace}*"):
            client.delete(key)
        client.close()


def test_scheduler_sends_each_job_when_due() -> None:
    now = [100.0]
    sent: list[str] = []
    scheduler = Scheduler(
        (Schedule("a.tick", 10), Schedule("b.tick", 30)), clock=lambda: now[0], send=sent.append
    )
    assert scheduler.tick() == ["a.tick", "b.tick"]
    now[0] = 105
    assert scheduler.tick() == []
    now[0] = 111
    assert scheduler.tick() == ["a.tick"]
    now[0] = 131
    assert scheduler.tick() == ["a.tick", "b.tick"]


def test_only_one_scheduler_leads(
    redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers import leader

    monkeypatch.setattr(leader, "LOCK_NAME", f"{redis_namespace}:leader")
    client = Redis.from_url(redis_url)
    sent: list[str] = []
    stop = threading.Event()
    schedulers = [Scheduler((Schedule(f"s{i}.tick", 0.05),), send=sent.append) for i in range(2)]
    threads = [
        threading.Thread(target=leader.run_as_leader, args=(client, s, stop, 0.05)) for s in schedulers
    ]
    for thread in threads:
        thread.start()
    threading.Event().wait(0.6)
    stop.set()
    for thread in threads:
        thread.join(5)
    client.close()
    assert sent
    assert len(set(sent)) == 1, f"both schedulers sent jobs: {set(sent)}"

"""The ``risk.run_rules`` actor runs every rule through the worker runtime, and the scheduler sends
it every 15 minutes; a redelivery raises nothing new."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.settings import Settings
from risk.models import RiskAlert, RiskRuleState
from tests.integration.risk.world import ago, risk_world
from tests.worker_actors import actors_on_a_fresh_broker
from workers import runtime
from workers.scheduler import SCHEDULES, Scheduler

pytestmark = pytest.mark.asyncio


@pytest.fixture
def actors(settings: Settings, db: Database) -> Iterator[object]:
    module = actors_on_a_fresh_broker()
    previous = runtime._runtime
    runtime.install(runtime.WorkerRuntime(settings=settings, database=db))
    yield module
    runtime._runtime = previous


async def test_the_actor_raises_alerts_once_and_is_scheduled(db: Database, actors: object) -> None:
    world = await risk_world(db)
    whale = await world.client("whale")
    await world.deposit(whale, 2_000_000, ago(hours=1))
    await actors.run_risk_rules.fn.__wrapped__()  # type: ignore[attr-defined]
    await actors.run_risk_rules.fn.__wrapped__()  # type: ignore[attr-defined]
    async with db.session() as session:
        assert await session.scalar(select(func.count(RiskAlert.id))) == 1
        assert await session.scalar(select(func.count()).select_from(RiskRuleState)) == 8
    [schedule] = [s for s in SCHEDULES if s.actor_name == "risk.run_rules"]
    assert schedule.every_seconds == 900
    sent: list[str] = []
    now = [0.0]
    scheduler = Scheduler(SCHEDULES, clock=lambda: now[0], send=sent.append)
    scheduler.tick()
    now[0] = 899.0
    scheduler.tick()
    now[0] = 900.0
    scheduler.tick()
    assert sent.count("risk.run_rules") == 2

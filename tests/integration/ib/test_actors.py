"""The IB actors: thin wrappers that load by id through the worker runtime and call a service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.db import Database
from core.settings import Settings
from ib import payouts, recompute
from ib.engine import process_deals
from tests.integration.ib.world import DAY1, SERVER, STAFF, T0, build_world, deal
from tests.worker_actors import actors_on_a_fresh_broker
from workers import runtime


@pytest.fixture
def actors(settings: Settings, db: Database) -> Iterator[object]:
    module = actors_on_a_fresh_broker()

    previous = runtime._runtime
    runtime.install(runtime.WorkerRuntime(settings=settings, database=db))
    yield module
    runtime._runtime = previous


async def test_actors_run_their_services_by_id(db: Database, actors: object) -> None:
    module = actors
    world = await build_world(
        db,
        rules=[{"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}],
        ibs=[("A", 1, None, None), ("B", 2, None, None)],
        clients={100: "A", 101: "B"},
    )
    async with db.transaction() as session:
        await payouts.set_policy(session, world.ids["B"], frequency="daily", actor=STAFF, now=DAY1)
    await process_deals(db, SERVER, [deal(1, 5100), deal(2, 5101)])
    await module.pay_out_commissions.fn.__wrapped__(world.ids["A"])  # type: ignore[attr-defined]
    await module.run_daily_payouts.fn.__wrapped__()  # type: ignore[attr-defined]
    assert await world.payables() == {}
    async with db.transaction() as session:
        run = await recompute.request_dry_run(
            session, period_start=T0, period_end=DAY1.replace(day=30), actor=STAFF, now=DAY1
        )
    assert (await recompute.get_run(db, run.id)).status == "computing"
    await module.compute_dry_run.fn.__wrapped__(run.id)  # type: ignore[attr-defined]
    computed = await recompute.get_run(db, run.id)
    assert (computed.status, computed.diff["deals"]) == ("dry_run", 2)
    await module.publish_recompute.fn.__wrapped__(run.id)  # type: ignore[attr-defined]
    assert (await recompute.get_run(db, run.id)).status == "published"
    await module.recompute_deals.fn.__wrapped__([1, 2])  # type: ignore[attr-defined]
    assert await world.payables() == {}

"""From the MT5 emulator to an IB's commission account: the sync actor hands what it stored to the
commission engine through a job, by server id, over a real socket and a real ledger.

Client 1 (the CRM's first trader) is referred by IB "A". The scheme pays 700 per closed lot plus
50% of the platform commission charged on the closing deal.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from types import ModuleType

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.jobs import Job
from core.settings import Settings
from ib.bridge_feed import FEED_ACTOR, process_synced_deals
from ib.models import CommissionLine
from mt_bridge.emulator.trading import close_position, market_deal
from mt_bridge.records import PositionSide
from tests.integration.ib.world import World, build_world
from tests.integration.mt_bridge.bridge_setup import Crm
from tests.worker_actors import actors_on_a_fresh_broker
from workers import runtime

RULES = [
    {"code": "per-lot", "kind": "fixed", "params": {"amount_per_lot": 700}},
    {"code": "platform", "kind": "platform_commission_share", "params": {"percent": "50"}},
]


@pytest.fixture
def actors(settings: Settings, db: Database, crm: Crm) -> Iterator[ModuleType]:
    """The worker's actors, with the worker runtime pointing at the test's database and emulator."""
    module = actors_on_a_fresh_broker()

    previous = (runtime._runtime, runtime._platforms)
    runtime.install(runtime.WorkerRuntime(settings=settings, database=db))
    runtime._platforms = crm.directory
    yield module
    runtime._runtime, runtime._platforms = previous


async def run_actor(actor: object, *args: object) -> None:
    await actor.fn.__wrapped__(*args)  # type: ignore[attr-defined]


def feed_arguments(job: Job) -> tuple[int, datetime, datetime]:
    server_id, changed_since, deleted_since = job.args
    return server_id, datetime.fromisoformat(changed_since), datetime.fromisoformat(deleted_since)


async def feed_jobs_after(actors: ModuleType, actor_name: str, server_id: int, sent: list[Job]) -> Job:
    """Run a bridge actor, then the commission job it sent, as a worker would; returns that job."""
    sent.clear()
    await run_actor(getattr(actors, actor_name), server_id)
    [job] = [job for job in sent if job.actor_name == FEED_ACTOR]
    assert job.args[0] == server_id
    await run_actor(actors.process_synced_deals, *job.args)
    return job


async def line_rows(world: World) -> list[tuple[str, int, int]]:
    async with world.db.session() as session:
        rows = await session.execute(
            select(CommissionLine.rule_code, CommissionLine.amount, CommissionLine.revision).order_by(
                CommissionLine.rule_code
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_synced_closing_deal_pays_the_ib_once_and_edits_pay_the_difference(
    crm: Crm, actors: ModuleType, sent_jobs: list[Job]
) -> None:
    [account] = await crm.open_live_accounts(1, deposit=10_000_00)
    assert account.login is not None
    world = await build_world(
        crm.db, rules=RULES, ibs=[("A", 900, None, None)], clients={1: "A"}, accounts={}, symbols={}
    )
    server = crm.emulator.server
    opened = market_deal(server, account.login, "EURUSD", PositionSide.BUY, Decimal("2.00"))
    closed = close_position(server, opened.position_id)
    charged = -int(closed.commission * 100)
    assert charged > 0  # the emulator's group charges a commission per lot

    job = await feed_jobs_after(actors, "sync_server", crm.server_id, sent_jobs)
    # 2 lots * 700 = 1400, and half the commission charged, rounded down.
    expected = 1400 + charged * 50 // 100
    assert await world.payable("A") == expected
    assert await line_rows(world) == [("per-lot", 1400, 1), ("platform", charged * 50 // 100, 1)]

    # Redelivery of the same job finds both trade deals (IN and OUT) unchanged; a second sync
    # pass re-reads the deals but stores no change, so its job has nothing to do. Nothing moves.
    server_id, changed_since, deleted_since = feed_arguments(job)
    again = await process_synced_deals(
        crm.db, server_id, changed_since=changed_since, deleted_since=deleted_since
    )
    assert (again.stored, again.unchanged, again.transfer_ids) == (0, 2, [])
    second = await feed_jobs_after(actors, "sync_server", crm.server_id, sent_jobs)
    server_id, changed_since, deleted_since = feed_arguments(second)
    idle = await process_synced_deals(
        crm.db, server_id, changed_since=changed_since, deleted_since=deleted_since
    )
    assert (idle.stored, idle.unchanged, idle.transfer_ids) == (0, 0, [])
    assert await world.payable("A") == expected
    assert await line_rows(world) == [("per-lot", 1400, 1), ("platform", charged * 50 // 100, 1)]

    # A dealer corrects the commission to 9.99: the re-scan recomputes and posts the difference.
    server.update_deal(closed.ticket, {"commission": Decimal("-9.99")})
    await feed_jobs_after(actors, "rescan_deals", crm.server_id, sent_jobs)
    assert await world.payable("A") == 1400 + 499
    assert await line_rows(world) == [("per-lot", 1400, 1), ("platform", 499, 2)]

    # The dealer deletes the deal: every line goes to zero and the commission is clawed back.
    server.delete_deal(closed.ticket)
    await feed_jobs_after(actors, "rescan_deals", crm.server_id, sent_jobs)
    assert await world.payable("A") == 0
    assert await line_rows(world) == [("per-lot", 0, 2), ("platform", 0, 3)]
    async with crm.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(CommissionLine)) == 2

"""Commission invariants under random batches, redeliveries, edits and deletions (hypothesis).

After every example, against the real database and ledger:

* the lines of each IB sum to its payable balance in the ledger, and all lines to the expense;
* redelivering every deal as last delivered changes nothing;
* recomputing the whole period without a scheme change gives an empty diff;
* every beneficiary is in the deal's upline at the deal's time, by a plain model of the tree
  written here (the tree has a sub-IB move and a client reassignment in the middle).

Examples share one database (hypothesis reuses the test's fixtures), so the books grow across
examples and the invariants must hold for the accumulated state too.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.db import Database
from ib import recompute
from ib.attribution import reassign_client
from ib.engine import process_deals
from ib.hierarchy import move_partner
from ib.ledger_accounts import expense_account
from ib.models import CommissionLine, Partner, StoredDeal
from ledger.reading import get_balance
from mt_bridge.records import Deal
from tests.integration.ib.world import DAY1, SERVER, STAFF, T0, World, build_world, deal

RULES = [
    {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}},
    {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200, 100]}},
    {
        "code": "ranks",
        "kind": "rank_differential",
        "params": {"increments_per_lot": {"bronze": 50, "silver": 30, "gold": 20}},
    },
    {"code": "profit", "kind": "profit_share", "params": {"percent": "7.5"}},
    {"code": "platform", "kind": "platform_commission_share", "params": {"percent": "33.3"}},
    {
        "code": "gold-spread",
        "kind": "spread_share",
        "symbol": "XAUUSD",
        "params": {"spread_points": "25", "percent": "40"},
    },
    {"code": "override", "kind": "overriding", "params": {"percent": "12.5"}},
]
MOVE = DAY1 + timedelta(days=5)
REASSIGN = DAY1 + timedelta(days=7)
END = DAY1 + timedelta(days=40)
CLIENTS = (100, 101, 102, 103, 1, 2, 3, 4)


def reference_upline(client: int, moment: datetime) -> list[str]:
    """The IB names above a trade, by a plain reading of the test's tree and its two changes."""
    direct = {
        100: "C",
        101: "B",
        102: "A" if moment < REASSIGN else "C",
        103: "X",
        1: "A",
        2: "B",
        3: "C",
        4: "X",
    }
    parent = {"A": None, "B": "A", "C": "B" if moment < MOVE else "X", "X": None}
    chain = []
    current: str | None = direct[client]
    while current is not None:
        chain.append(current)
        current = parent[current]
    return chain


async def ensure_world(db: Database) -> World:
    async with db.session() as session:
        existing = {
            pid: client for pid, client in await session.execute(select(Partner.id, Partner.client_id))
        }
    if existing:
        names = {1: "A", 2: "B", 3: "C", 4: "X"}
        world = World(db, 0, 0, {names[client]: pid for pid, client in existing.items()})
        return world
    world = await build_world(
        db,
        rules=RULES,
        ibs=[
            ("A", 1, None, "gold"),
            ("B", 2, "A", "silver"),
            ("C", 3, "B", "bronze"),
            ("X", 4, None, "silver"),
        ],
        clients={100: "C", 101: "B", 102: "A", 103: "X"},
    )
    async with db.transaction() as session:
        await move_partner(
            session, world.ids["C"], world.ids["X"], effective_from=MOVE, actor=STAFF, now=DAY1, reason="p"
        )
        await reassign_client(
            session, 102, world.ids["C"], effective_from=REASSIGN, reason="p", actor=STAFF, now=DAY1
        )
    return world


deal_strategy = st.builds(
    lambda ticket, client, hundredths, minutes, profit, commission, gold: deal(
        ticket,
        client + 5000,
        lots=str(hundredths / 100) if hundredths % 100 else str(hundredths // 100),
        time=DAY1 + timedelta(minutes=minutes),
        profit=profit,
        commission=commission,
        symbol="XAUUSD" if gold else "EURUSD",
        contract_size="100" if gold else "100000",
    ),
    ticket=st.integers(1, 40),
    client=st.sampled_from(CLIENTS),
    hundredths=st.integers(1, 500),
    minutes=st.integers(0, 20 * 24 * 60),
    profit=st.integers(-50_000, 50_000),
    commission=st.integers(-3_000, 0),
    gold=st.booleans(),
)
batch_strategy = st.tuples(st.lists(deal_strategy, max_size=4), st.lists(st.integers(1, 40), max_size=2))


async def check(database_url: str, batches: list[tuple[list[Deal], list[int]]]) -> None:
    db = Database.from_url(database_url)
    try:
        world = await ensure_world(db)
        names = {pid: name for name, pid in world.ids.items()}
        latest: dict[int, Deal] = {}
        for deals, deleted in batches:
            await process_deals(db, SERVER, deals, deleted_tickets=deleted)
            for item in deals:
                latest[item.ticket] = item
            for ticket in deleted:
                if ticket not in {item.ticket for item in deals}:
                    latest.pop(ticket, None)

        async with db.session() as session:
            line_rows = (
                await session.execute(
                    select(
                        CommissionLine.beneficiary_id,
                        CommissionLine.amount,
                        CommissionLine.trader_client_id,
                        CommissionLine.deal_time,
                    )
                )
            ).all()
        totals: dict[str, int] = {}
        for partner_id, amount, _client, _time in line_rows:
            totals[names[partner_id]] = totals.get(names[partner_id], 0) + amount
        assert {k: v for k, v in totals.items() if v} == await world.payables()
        async with db.transaction() as session:
            expense = await expense_account(session, "USD")
        assert (await get_balance(db, expense)).posted == sum(totals.values())

        from ib.timeutil import aware

        for partner_id, amount, client, moment in line_rows:
            if amount:
                assert names[partner_id] in reference_upline(client, aware(moment))

        before = await world.payables()
        async with db.session() as session:
            deals_before = await session.scalar(select(func.count()).select_from(StoredDeal))
        again = await process_deals(db, SERVER, list(latest.values()))
        assert again.transfer_ids == []
        assert again.stored == 0
        assert await world.payables() == before
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(StoredDeal)) == deals_before

        run = await recompute.dry_run(db, period_start=T0, period_end=END, actor=STAFF)
        assert run.diff["ibs"] == []
    finally:
        await db.dispose()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(batch_strategy, min_size=1, max_size=5))
def test_commission_invariants(database_url: str, batches: list[tuple[list[Deal], list[int]]]) -> None:
    asyncio.run(check(database_url, batches))

"""IB commission benchmark on PostgreSQL (DESIGN.md §12).

In one run, on a database it creates and drops:

* the baseline: raw INSERT rate of 1,000-row batches into an unconstrained table;
* closing deals per second through the production engine (:func:`ib.engine.process_deals`):
  a 5-level tree (121 IBs, fan-out 3), 10,000 clients, a scheme mixing fixed with sub-IB
  allocations, per level, rank differential, spread share, % of platform commission, % of profit
  and overriding; every batch (the size the bridge's feed hands the engine,
  :data:`ib.bridge_feed.FEED_BATCH`) writes its lines and posts to the ledger;
* the time to recompute (dry run: compute and diff against the published lines) a month of deals:
  1,000,000 in the full run, the deals loaded through the engine first, then vacuumed and analysed
  as autovacuum would have done long before anyone recomputes a past month (the time it took is
  printed); baseline: reading the same rows with a bare SELECT.

Prints a table, then one JSON object per figure per line. ``--quick`` finishes in under a minute;
``--profile`` prints where the engine run spends its time. ``--with-cpa`` adds a CPA rule and
first deposits for most clients, so every batch also looks up which traders were paid their CPA
and sums the lots of those not paid yet.

    python bench/commissions.py [--quick] [--profile] [--with-cpa] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_ADMIN_URL,
    Figure,
    load_average,
    print_json_lines,
    scratch_database,
    server_settings,
    write_pressure,
)
from core.db import Database, migrate
from core.gc_tuning import freeze_startup_objects
from ib import partners, recompute, schemes
from ib.bridge_feed import FEED_BATCH
from ib.engine import process_deals
from ib.hierarchy import move_partner
from ib.models import ClientDeposit, ClientLink, SymbolSpec, TradingAccount
from mt_bridge.records import Deal, DealAction, DealEntry

BENCH = "commissions"
SERVER = "bench"
FANOUT = 3
LEVELS = 5
CLIENTS = 10_000
RAW_BATCH = 1_000
"""Rows per INSERT of the raw baseline."""
LOAD_BATCH = 10_000
"""Deals per engine call while loading the month that is then recomputed."""
START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH = timedelta(days=30)
STAFF = "staff:bench"
TARGETS = {"closing_deals_per_s": 10_000.0, "recompute_month_s": 180.0}

RULES: list[dict[str, Any]] = [
    {"code": "fixed", "kind": "fixed", "symbol_group": "forex", "params": {"amount_per_lot": 800}},
    {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 150, 100, 50, 25]}},
    {
        "code": "ranks",
        "kind": "rank_differential",
        "params": {"increments_per_lot": {"bronze": 100, "silver": 60, "gold": 40}},
    },
    {
        "code": "gold-spread",
        "kind": "spread_share",
        "symbol": "XAUUSD",
        "params": {"spread_points": "30", "percent": "35"},
    },
    {"code": "platform", "kind": "platform_commission_share", "params": {"percent": "20"}},
    {"code": "profit", "kind": "profit_share", "params": {"percent": "2.5"}},
    {"code": "override", "kind": "overriding", "params": {"percent": "10"}},
]
CPA_RULE: dict[str, Any] = {
    "code": "cpa",
    "kind": "cpa",
    "params": {"amount": 20_000, "min_first_deposit": 10_000, "min_lots": "5"},
}
"""Added by ``--with-cpa``: 200 USD once a client deposited 100 USD and closed 5 lots."""
DEPOSITED_SHARE = 0.7
"""The share of clients with a first deposit under ``--with-cpa``."""


@dataclass(frozen=True)
class Sizes:
    engine_deals: int
    month_deals: int
    batch: int = FEED_BATCH
    """Closing deals per engine call in the throughput run: by default what the bridge's feed
    hands the engine (:data:`ib.bridge_feed.FEED_BATCH`)."""
    with_cpa: bool = False
    """The scheme also pays CPA, and most clients have a first deposit (:data:`CPA_RULE`)."""

    @property
    def rules(self) -> list[dict[str, Any]]:
        return [*RULES, CPA_RULE] if self.with_cpa else RULES


FULL = Sizes(engine_deals=100_000, month_deals=1_000_000)
QUICK = Sizes(engine_deals=10_000, month_deals=10_000)


async def raw_insert_rate(dsn: str, rows: int) -> float:
    """Rows per second into an unconstrained table: 1,000-row INSERTs, one transaction each."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE raw_rows (a BIGINT, b BIGINT, amount BIGINT, key TEXT)")
        statement = await connection.prepare(
            "INSERT INTO raw_rows (a, b, amount, key)"
            " SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[])"
        )
        started = time.perf_counter()
        for start in range(0, rows, RAW_BATCH):
            n = min(RAW_BATCH, rows - start)
            async with connection.transaction():
                await statement.fetch(
                    list(range(n)), list(range(n)), [100] * n, [f"r{start + i}" for i in range(n)]
                )
        return rows / (time.perf_counter() - started)
    finally:
        await connection.close()


async def raw_select_seconds(dsn: str, start: datetime, end: datetime) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await connection.fetch("SELECT * FROM ib_deal WHERE time >= $1 AND time < $2", start, end)
        return time.perf_counter() - started
    finally:
        await connection.close()


async def vacuum(dsn: str, tables: tuple[str, ...]) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for table in tables:
            await connection.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await connection.close()


async def build_network(db: Database, sizes: Sizes) -> list[int]:
    """The 5-level tree, its scheme and ranks, 10,000 clients with accounts; returns the client ids."""
    rng = random.Random(5)
    async with db.transaction() as session:
        for code, position in (("bronze", 1), ("silver", 2), ("gold", 3)):
            await schemes.create_rank(session, code, name=code, position=position)
        scheme = await schemes.create_scheme(session, "Bench", currency="USD", actor=STAFF, now=START)
        version = await schemes.add_version(
            session, scheme.id, effective_from=START - MONTH, rules=sizes.rules, actor=STAFF, now=START
        )
        await schemes.publish_version(session, version.id, actor=STAFF, now=START)
        ranks = ["gold", "silver", "silver", "bronze", None]
        levels: list[list[int]] = []
        client_id = 1
        for depth in range(LEVELS):
            level: list[int] = []
            parents = levels[-1] if levels else [None]
            for parent in parents:
                for _ in range(FANOUT if parent is not None else 1):
                    partner = await partners.make_partner(
                        session,
                        client_id,
                        scheme_id=scheme.id,
                        rank_code=ranks[depth],
                        actor=STAFF,
                        now=START - MONTH,
                    )
                    client_id += 1
                    if parent is not None:
                        await move_partner(
                            session,
                            partner.id,
                            parent,
                            effective_from=START - MONTH + timedelta(seconds=1),
                            actor=STAFF,
                            now=START,
                            reason="bench",
                        )
                        await schemes.set_allocation(
                            session,
                            parent,
                            partner.id,
                            rule_code="fixed",
                            amount_per_lot=800 - 120 * depth,
                            effective_from=START - MONTH + timedelta(seconds=2),
                            actor=STAFF,
                            now=START,
                        )
                    level.append(partner.id)
            levels.append(level)
        all_partners = [pid for level in levels for pid in level]
        clients = list(range(10_000, 10_000 + CLIENTS))
        await session.execute(
            insert(ClientLink),
            [
                {
                    "client_id": client,
                    "partner_id": rng.choice(levels[-1] if rng.random() < 0.8 else all_partners),
                    "valid_from": START - MONTH,
                    "source": "staff",
                    "created_by": STAFF,
                }
                for client in clients
            ],
        )
        await session.execute(
            insert(TradingAccount),
            [
                {
                    "server": SERVER,
                    "login": client,
                    "client_id": client,
                    "account_type": "standard",
                    "currency": "USD",
                }
                for client in clients
            ],
        )
        if sizes.with_cpa:
            await session.execute(
                insert(ClientDeposit),
                [
                    {"client_id": client, "amount": 50_000, "currency": "USD", "deposited_at": START - MONTH}
                    for client in clients
                    if rng.random() < DEPOSITED_SHARE
                ],
            )
        session.add_all(
            [
                SymbolSpec(symbol="EURUSD", symbol_group="forex", digits=5),
                SymbolSpec(symbol="XAUUSD", symbol_group="metals", digits=2),
            ]
        )
    return clients


def closing_deal(rng: random.Random, ticket: int, clients: list[int], moment: datetime) -> Deal:
    gold = rng.random() < 0.2
    lots = Decimal(rng.randint(1, 300)) / 100
    return Deal(
        ticket=ticket,
        login=rng.choice(clients),
        order=ticket,
        position_id=ticket,
        action=DealAction.SELL,
        entry=DealEntry.OUT,
        symbol="XAUUSD" if gold else "EURUSD",
        raw_symbol="XAUUSD" if gold else "EURUSD",
        volume=lots,
        volume_closed=lots,
        price=Decimal("1.1"),
        profit=rng.randint(-20_000, 20_000),
        commission=-rng.randint(0, 1_500),
        swap=0,
        fee=0,
        currency_digits=2,
        contract_size=Decimal(100 if gold else 100_000),
        time=moment,
        server_time_msc=int(moment.timestamp() * 1000),
        comment="",
    )


async def feed(
    db: Database,
    clients: list[int],
    count: int,
    first_ticket: int,
    start: datetime,
    span: timedelta,
    batch: int,
) -> float:
    """Deals per second through :func:`process_deals`, ``batch`` closing deals per call, in time order."""
    rng = random.Random(first_ticket)
    step = span / count
    batches = []
    for offset in range(0, count, batch):
        batches.append(
            [
                closing_deal(rng, first_ticket + i, clients, start + step * i)
                for i in range(offset, min(offset + batch, count))
            ]
        )
    started = time.perf_counter()
    for deals in batches:
        await process_deals(db, SERVER, deals)
    return count / (time.perf_counter() - started)


async def measure(
    db: Database, dsn: str, sizes: Sizes, profile: bool
) -> tuple[list[Figure], dict[str, float]]:
    began = time.perf_counter()
    raw_rate = await raw_insert_rate(dsn, 20_000)
    clients = await build_network(db, sizes)
    print(f"setup: {time.perf_counter() - began:.1f} s", file=sys.stderr)
    notes: dict[str, float] = {}
    # The month under recompute: loaded through the engine in big batches (its lines are published).
    month_start = START
    load_rate = await feed(db, clients, sizes.month_deals, 1, month_start, MONTH, LOAD_BATCH)
    notes["month_load_deals_per_s"] = load_rate
    # Throughput: fresh deals in the following days, in batches of the feed's size.
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    pressure_before = await write_pressure(dsn)
    engine_rate = await feed(
        db,
        clients,
        sizes.engine_deals,
        10_000_000,
        month_start + MONTH + timedelta(days=1),
        timedelta(days=5),
        sizes.batch,
    )
    pressure_after = await write_pressure(dsn)
    if pressure_before is not None and pressure_after is not None:
        notes["engine_run_forced_checkpoints"] = pressure_after[0] - pressure_before[0]
        notes["engine_run_backend_buffer_writes"] = pressure_after[1] - pressure_before[1]
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    # The month was written moments ago; a recompute in production looks at a past period, long
    # since vacuumed and analysed by autovacuum. Do that first, so that autovacuum's pass over the
    # freshly written rows does not share the two cores with the recompute being timed.
    started = time.perf_counter()
    await vacuum(dsn, ("ib_commission_line", "ib_deal", "ib_line_basis"))
    notes["vacuum_before_recompute_s"] = time.perf_counter() - started
    started = time.perf_counter()
    run = await recompute.dry_run(db, period_start=month_start, period_end=month_start + MONTH, actor=STAFF)
    recompute_s = time.perf_counter() - started
    assert run.diff["deals"] == sizes.month_deals, run.diff["deals"]
    assert run.diff["ibs"] == [], run.diff["ibs"][:3]
    select_s = await raw_select_seconds(dsn, month_start, month_start + MONTH)
    notes["recompute_deals_per_s"] = sizes.month_deals / recompute_s
    notes["recompute_1M_deals_s_extrapolated"] = 1_000_000 / notes["recompute_deals_per_s"]
    figures = [
        Figure("closing_deals_per_s", engine_rate, "1/s", "raw_insert_rows_per_s", raw_rate),
        Figure("recompute_month_s", recompute_s, "s", "raw_select_month_s", select_s, higher_is_better=False),
    ]
    return figures, notes


async def run(admin_url: str, sizes: Sizes, profile: bool) -> tuple[list[Figure], dict[str, float], str]:
    async with scratch_database(admin_url, f"bd_bench_commissions_{os.getpid()}") as (dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database.from_url(url)
        freeze_startup_objects()  # as a worker process does once it has started (workers/entry.py)
        try:
            figures, notes = await measure(db, dsn, sizes, profile)
        finally:
            await db.dispose()
        return figures, notes, await server_settings(dsn)


def report(figures: list[Figure], notes: dict[str, float], sizes: Sizes, settings: str) -> None:
    print(
        f"\ncommissions benchmark: {LEVELS}-level tree (fan-out {FANOUT}), {CLIENTS:,} clients,"
        f" {len(sizes.rules)} rules{' (with CPA)' if sizes.with_cpa else ''};"
        f" {sizes.engine_deals:,} deals in batches of {sizes.batch:,};"
        f" recompute of {sizes.month_deals:,} deals"
    )
    print(f"{'metric':<32}{'value':>14} {'unit':<5}{'ratio':>10}  {'target':<18} baseline")
    for figure in figures:
        target = TARGETS[figure.metric]
        if figure.metric == "recompute_month_s" and sizes.month_deals < 1_000_000:
            verdict = "n/a (not 1M)"
        elif figure.unit == "s":
            verdict = f"<{target:,.0f} s " + ("ok" if figure.value < target else "MISSED")
        else:
            verdict = f">={target:,.0f} " + ("ok" if figure.value >= target else "MISSED")
        print(
            f"{figure.metric:<32}{figure.value:>14,.1f} {figure.unit:<5}{figure.ratio:>10.3f}  {verdict:<18} "
            f"{figure.baseline} = {figure.baseline_value:,.2f}"
        )
    for name, value in notes.items():
        print(f"{name:<36}{value:>14,.1f}")
    print(f"{'load average (1, 5, 15 min)':<36}{load_average():>14}")
    print(f"PostgreSQL: {settings}")
    print()
    print_json_lines(BENCH, figures, value_digits=1, ratio_digits=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller loads; finishes in under a minute")
    parser.add_argument("--profile", action="store_true", help="profile the engine throughput run")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    parser.add_argument("--engine-deals", type=int, help="deals in the throughput run")
    parser.add_argument("--month-deals", type=int, help="deals in the recomputed month")
    parser.add_argument(
        "--batch", type=int, default=FEED_BATCH, help="deals per engine call (throughput run)"
    )
    parser.add_argument(
        "--with-cpa", action="store_true", help="the scheme also pays CPA; most clients have deposited"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(
        args.engine_deals or sizes.engine_deals,
        args.month_deals or sizes.month_deals,
        args.batch,
        args.with_cpa,
    )
    figures, notes, settings = asyncio.run(run(args.admin_url, sizes, args.profile))
    report(figures, notes, sizes, settings)


if __name__ == "__main__":
    main()

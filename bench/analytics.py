"""Client figures benchmark on PostgreSQL (DESIGN.md §12): the scheduled recompute at 100,000 clients.

In one run, on a database it creates, migrates and drops:

* 100,000 clients (``--quick``: 10,000); 60 % funded with one to three credited deposits in USD
  or EUR (an EUR/USD rate is stored) and a wallet, 20 % with a paid withdrawal, a live trading
  account for 60 % with five deals each (three closing), and IB commission lines on the closing
  deals of a third of the traders (seeded with triggers off: the bench measures the recompute,
  not the engine's provenance checks);
* ``analytics.recompute.recompute_client_metrics`` timed as the job runs it (median of 3), in
  clients per second, against the baseline, measured in the same run: the raw INSERT rate of an
  unconstrained table (rows per second), so the ratio says how close the whole recompute (every
  aggregate, the conversion, the replace) comes to merely writing that many rows;
* a client-list page (count and 50 rows, ``crm.client_search``) filtered on churn risk, value
  tier and net deposits, median of 20, against the same page without a filter.

Prints a table, then one JSON object per figure per line. ``--quick`` finishes in under a minute.

    python bench/analytics.py [--quick] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.recompute import recompute_client_metrics
from bench._common import DEFAULT_ADMIN_URL, Figure, bulk, load_average, print_json_lines, scratch_database
from cashier.models import Deposit, Withdrawal
from core.db import Database, migrate
from core.identity.models import CLIENT, User
from crm.client_search import ClientFilter, parse_filter, search_clients
from crm.scope import DataScope, ScopeKind
from ib.models import CommissionLine
from ledger.fx import record_rate
from ledger.models import Account
from mt_bridge.models import AccountType, MirroredDeal, TradingAccount, TradingGroup, TradingServer

BENCH = "analytics"
RUNS = 3
PAGES = 20
CHUNK = 5_000


async def _product(db: Database) -> tuple[int, int, str]:
    async with db.transaction() as session:
        server = TradingServer(
            name="live",
            platform="mt5",
            address="127.0.0.1:1",
            manager_login=1,
            manager_password_sealed=b"x",
            login_range_start=1_000_000,
        )
        session.add(server)
        await session.flush()
        group = TradingGroup(server_id=server.id, name="real", currency="USD")
        session.add(group)
        await session.flush()
        kind = AccountType(
            code="std",
            name="Standard",
            server_id=server.id,
            group_id=group.id,
            currency="USD",
            leverage_options=[100],
            auto_leverage_max=100,
        )
        session.add(kind)
        await session.flush()
        await record_rate(
            session,
            base="EUR",
            quote="USD",
            rate=Decimal("1.0850"),
            spread=Decimal("0"),
            source="bench",
            observed_at=datetime.now(UTC) - timedelta(days=1),
        )
        return server.id, kind.id, group.name


def _rows(n: int, now: datetime, server_id: int, type_id: int, group: str) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("users", "dep", "wd", "wallets", "ta", "deals", "lines")
    }
    ticket = 0
    for i in range(1, n + 1):
        rows["users"].append(
            {
                "id": i,
                "kind": CLIENT,
                "email": f"c{i}@bench.example",
                "password_hash": "x",
                "created_at": now - timedelta(days=400 - i % 365),
                "last_login_at": now - timedelta(days=i % 120, hours=i % 24) if i % 4 else None,
            }
        )
        funded = i % 5 < 3
        if funded:
            for k in range(1 + i % 3):
                currency = "EUR" if (i + k) % 4 == 0 else "USD"
                amount = 100_00 * (1 + (i * 7 + k) % 500)
                rows["dep"].append(
                    {
                        "client_id": i,
                        "method": "wire",
                        "currency": currency,
                        "amount": amount,
                        "credited_amount": amount,
                        "status": "credited",
                        "idempotency_key": f"d{i}-{k}",
                    }
                )
            rows["wallets"].append(
                {
                    "currency": "USD",
                    "owner_kind": "client",
                    "owner_id": str(i),
                    "purpose": "client_wallet",
                    "normal_side": "credit",
                    "credits_posted": 100_00 * (1 + i % 50),
                    "debits_posted": 0,
                    "created_at": now,
                }
            )
        if i % 5 == 0:
            rows["wd"].append(
                {
                    "client_id": i,
                    "currency": "USD",
                    "amount": 50_00,
                    "status": "paid",
                    "destination_kind": "bank_account",
                    "idempotency_key": f"w{i}",
                    "due_at": now,
                }
            )
        if i % 5 in (0, 1, 2):
            login = 1_000_000 + i
            rows["ta"].append(
                {
                    "client_id": i,
                    "server_id": server_id,
                    "account_type_id": type_id,
                    "login": login,
                    "group_name": group,
                    "currency": "USD",
                    "leverage": 100,
                    "is_demo": False,
                    "status": "active",
                    "balance": 10_00 * (i % 300),
                }
            )
            for k in range(5):
                ticket += 1
                at = now - timedelta(days=(i + 11 * k) % 90, minutes=k)
                rows["deals"].append(
                    {
                        "server_id": server_id,
                        "ticket": ticket,
                        "login": login,
                        "order": ticket,
                        "position_id": ticket,
                        "action": k % 2,
                        "entry": 0 if k < 2 else 1,
                        "symbol": "EURUSD",
                        "raw_symbol": "EURUSD",
                        "volume": Decimal("0.10") * (1 + k),
                        "volume_closed": Decimal(0),
                        "price": Decimal("1.1"),
                        "profit": 0,
                        "commission": 0,
                        "swap": 0,
                        "fee": 0,
                        "currency_digits": 2,
                        "time": at,
                        "time_msc": int(at.timestamp() * 1000),
                        "comment": "",
                    }
                )
                if k >= 2 and i % 3 == 0:
                    rows["lines"].append(
                        {
                            "deal_id": ticket,
                            "beneficiary_id": 1 + i % 200,
                            "rule_id": 1,
                            "scheme_version_id": 1,
                            "rule_code": "fixed",
                            "kind": "fixed",
                            "level": 1,
                            "trader_client_id": i,
                            "deal_time": at,
                            "currency": "USD",
                            "amount": 70 * (1 + k),
                            "inputs": {},
                            "formula": "bench",
                        }
                    )
    return rows


async def seed(db: Database, dsn: str, n: int) -> dict[str, int]:
    now = datetime.now(UTC)
    server_id, type_id, group = await _product(db)
    rows = _rows(n, now, server_id, type_id, group)
    for key, model in (
        ("users", User),
        ("dep", Deposit),
        ("wd", Withdrawal),
        ("wallets", Account),
        ("ta", TradingAccount),
        ("deals", MirroredDeal),
    ):
        await bulk(db, model, rows[key], batch=CHUNK)
    async with db.transaction() as session:
        # Commission lines name deals, partners and rules the engine made; the bench has none of
        # those, so its lines are written with the provenance triggers off for this transaction.
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        for start in range(0, len(rows["lines"]), CHUNK):
            await session.execute(CommissionLine.__table__.insert(), rows["lines"][start : start + CHUNK])
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return {key: len(value) for key, value in rows.items()}


async def raw_insert_rate(dsn: str, rows: int) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE raw_rows (a BIGINT, b BIGINT, at TIMESTAMPTZ DEFAULT now())")
        started = time.perf_counter()
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO raw_rows (a, b) SELECT g, g * 7 FROM generate_series(1, $1::BIGINT) AS g", rows
            )
        return rows / (time.perf_counter() - started)
    finally:
        await connection.close()


async def _page_ms(db: Database, filters: ClientFilter) -> float:
    scope = DataScope(0, ScopeKind.ALL, "", frozenset())
    timings = []
    for _ in range(PAGES):
        async with db.session() as session:
            started = time.perf_counter()
            await search_clients(session, scope, filters)
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def run(clients: int, admin_url: str) -> tuple[list[Figure], dict[str, int]]:
    async with scratch_database(admin_url, f"bench_analytics_{os.getpid()}") as (dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database.from_url(url)
        try:
            started = time.perf_counter()
            counts = await seed(db, dsn, clients)
            print(f"seeded {counts} in {time.perf_counter() - started:.1f} s", flush=True)
            seconds = []
            for _ in range(RUNS):
                started = time.perf_counter()
                result = await recompute_client_metrics(db)
                seconds.append(time.perf_counter() - started)
            assert result.clients == clients, result
            recompute_s = statistics.median(seconds)
            filtered = await _page_ms(db, parse_filter({"churn": "no", "tier": "silver", "net_min": "1000"}))
            unfiltered = await _page_ms(db, ClientFilter())
            async with db.session() as session:
                churn = await session.scalar(
                    text("SELECT count(*) FROM analytics_client_metrics WHERE churn_risk")
                )
        finally:
            await db.dispose()
        raw = await raw_insert_rate(dsn, clients)
    print(
        f"{clients} clients: recompute {recompute_s:.2f} s (runs {', '.join(f'{s:.2f}' for s in seconds)});"
    )
    print(f"{churn} flagged as churn risks (load {load_average()})")
    figures = [
        Figure("recompute_clients_per_s", clients / recompute_s, "1/s", "raw_insert_rows_per_s", raw),
        Figure(
            "filtered_list_page_p50_ms",
            filtered,
            "ms",
            "unfiltered_list_page_p50_ms",
            unfiltered,
            higher_is_better=False,
        ),
    ]
    return figures, counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 clients: under a minute")
    parser.add_argument("--clients", type=int, default=0, help="seed this many clients instead")
    parser.add_argument("--admin-url", default=os.environ.get("TEST_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    clients = args.clients or (10_000 if args.quick else 100_000)
    figures, _ = asyncio.run(run(clients, args.admin_url))
    print(f"{'metric':32} {'value':>12} {'unit':>5} {'baseline':>14}  ratio")
    for f in figures:
        print(f"{f.metric:32} {f.value:12.1f} {f.unit:>5} {f.baseline_value:14.1f}  {f.ratio:.3f}")
    print_json_lines(BENCH, figures, value_digits=2, ratio_digits=4)


if __name__ == "__main__":
    main()

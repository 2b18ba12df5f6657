"""Deal sync benchmark on PostgreSQL (DESIGN.md §12), against the MT5 emulator on loopback.

Measures, in one run and on one freshly created and migrated database (dropped at the end):

* the baseline: raw INSERT rate (asyncpg ``executemany``) of the same rows into an unconstrained
  table;
* backfill ingest: deals/s from the emulator into ``mt_deal`` for >= 200,000 deals (fetch by time
  window through the real MT5 Web API client, map, upsert; the next window is fetched while this
  one is stored), and the fetch-and-map rate alone (which bounds it);
* where the backfill's time goes, as CPU microseconds per deal in each of the three processes
  (the bridge, the emulator, the PostgreSQL backends): unlike deals/s these barely move when other
  work loads the machine;
* ledger posting of those deals: deals/s;
* lag: at a steady 200 closing deals/s made on the emulator, the time from a deal's creation to its
  P&L being committed in the ledger by a sync loop, p50 and p99.

The emulator runs in its own process, as a trade server runs on its own machine.

Prints a table, then one JSON object per figure per line. ``--quick`` (20,000 deals, 8 s steady)
finishes in under a minute; the full run backfills 200,000 deals.

    python bench/sync.py [--quick] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench._common import DEFAULT_ADMIN_URL, Figure, asyncpg_dsn, print_json_lines, scratch_database
from core.db import Database, migrate
from core.secrets_box import SecretsBox
from mt_bridge import accounts, products
from mt_bridge.command_worker import OutboxPolicy, process_due_commands
from mt_bridge.connect import PlatformDirectory, default_builder
from mt_bridge.deal_posting import post_pending_deals
from mt_bridge.emulator.config import SimulatorConfig, load_config
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.emulator.state import DealRecord, lots_to_ext
from mt_bridge.models import MirroredDeal, Platform
from mt_bridge.platform import DealQuery, TradingPlatform
from mt_bridge.records import DealAction, DealEntry
from mt_bridge.sync import SyncPolicy, acquire_lease, pull_deals, release_lease

BENCH = "sync"
GROUP = "demo\\forex-usd"
STEADY_RATE = 200


@dataclass(frozen=True)
class Sizes:
    backfill: int
    logins: int
    steady_seconds: float


FULL = Sizes(backfill=200_000, logins=100, steady_seconds=30.0)
QUICK = Sizes(backfill=20_000, logins=40, steady_seconds=8.0)


class TimedPlatform:
    """Delegates to the real client and adds up the time spent fetching deals."""

    def __init__(self, inner: TradingPlatform) -> None:
        self.inner = inner
        self.fetch_seconds = 0.0

    async def fetch_deals(self, query: DealQuery) -> Any:
        started = time.perf_counter()
        try:
            return await self.inner.fetch_deals(query)
        finally:
            self.fetch_seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def make_deal(emulator: Emulator, login: int, time_msc: int, rng: random.Random) -> DealRecord:
    """A closing trade deal with P&L, commission and swap, booked on the emulated account."""
    server = emulator.server
    lots = Decimal(rng.choice((1, 5, 10, 50, 100))) / 100
    deal = DealRecord(
        ticket=server.next_ticket(),
        login=login,
        action=rng.choice((DealAction.BUY, DealAction.SELL)),
        entry=DealEntry.OUT,
        time_msc=time_msc,
        order=server.next_ticket(),
        position_id=server.next_ticket(),
        symbol="EURUSD",
        price=Decimal("1.08512"),
        volume_ext=lots_to_ext(lots),
        volume_closed_ext=lots_to_ext(lots),
        profit=Decimal(rng.randint(-50_000, 50_000)) / 100,
        commission=Decimal(-rng.randint(1, 700)) / 100,
        storage=Decimal(rng.randint(-300, 100)) / 100,
        digits=5,
        digits_currency=2,
        contract_size=Decimal(100_000),
        price_position=Decimal("1.08400"),
    )
    server.record_deal(deal)
    server.user(login).balance += deal.money
    return deal


def emulator_process(conn: Any) -> None:
    """The emulator in its own process, as a real trade server is on its own machine: its CPU
    (encoding answers) is not charged to the bridge's event loop. It makes deals when told to."""
    asyncio.run(_serve_emulator(conn))


async def _serve_emulator(conn: Any) -> None:
    emulator = Emulator(load_config().with_changes(simulator=SimulatorConfig(enabled=False)), tls=False)
    await emulator.start("127.0.0.1", 0)
    conn.send((emulator.base_url, emulator.config.time_offset_minutes))
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        logins = sorted(emulator.server.users)
        if command == "backfill":
            count = int(args[0])
            now_msc = emulator.server.now_msc()
            span = 10 * 3600 * 1000
            for index in range(count):
                make_deal(emulator, logins[index % len(logins)], now_msc - span + index * span // count, rng)
            conn.send(emulator.server._next_ticket)
        elif command == "cpu":
            conn.send(time.process_time())
        elif command == "steady":
            rate, seconds = float(args[0]), float(args[1])
            tick = 0.05
            per_tick = int(rate * tick)
            made = 0
            started = next_at = time.perf_counter()
            while time.perf_counter() - started < seconds:
                for _ in range(per_tick):
                    make_deal(emulator, rng.choice(logins), emulator.server.now_msc(), rng)
                    made += 1
                next_at += tick
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            conn.send(made)
        else:
            break
    await emulator.stop()


PROC = Path("/proc")
HAS_PROC = (PROC / "self" / "stat").exists()


def cpu_seconds_of(pids: list[int]) -> float:
    """User plus system CPU seconds used so far by processes of this machine, from ``/proc``."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def postgres_cpu_seconds(admin_url: str, database: str) -> float | None:
    """CPU seconds used so far by the backends connected to ``database``; None without ``/proc``
    (PostgreSQL runs on this machine: the bench only targets loopback)."""
    if not HAS_PROC:
        return None
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await connection.close()
    return cpu_seconds_of([row["pid"] for row in rows])


async def baseline_insert_rate(url: str, rows: int) -> float:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS bench_raw (server_id int, ticket bigint, login bigint,"
            " action int, symbol text, volume text, price text, profit bigint, commission bigint,"
            " swap bigint, time timestamptz, comment text)"
        )
        values = [
            (1, i, 100000 + i % 100, 0, "EURUSD", "0.10", "1.08512", i % 5000, -350, -12, None, "")
            for i in range(rows)
        ]
        started = time.perf_counter()
        await connection.executemany(
            "INSERT INTO bench_raw VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)", values
        )
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_raw")
    finally:
        await connection.close()
    return rows / elapsed


async def setup_crm(
    db: Database, base_url: str, offset_minutes: int, logins: int
) -> tuple[int, PlatformDirectory]:
    box = SecretsBox(os.urandom(32))
    async with db.transaction() as session:
        server = await products.add_server(
            session, box, name="bench", platform=Platform.MT5, address=base_url, manager_login=1000,
            manager_password="Manager1!", login_range_start=600000,
            time_offset_minutes=offset_minutes,
        )  # fmt: skip
        group = await products.add_group(session, server.id, name=GROUP, currency="USD")
        kind = await products.add_account_type(
            session, code="std", name="Std", group_id=group.id, leverage_options=[100]
        )
        for client_id in range(logins):
            await accounts.request_account(
                session, box, client_id=client_id, account_type_id=kind.id, name=f"Bench {client_id}",
                leverage=100, kyc_check=allow,
            )  # fmt: skip
        server_id = server.id
    directory = PlatformDirectory(db, box, default_builder(True))
    policy = OutboxPolicy(backoff_base=timedelta(0))
    while await process_due_commands(db, directory.platform, box, policy, concurrency=8):
        pass
    return server_id, directory


async def allow(session: Any, client_id: int) -> None:
    return None


async def run(sizes: Sizes, admin_url: str) -> list[Figure]:
    name = f"bd_bench_sync_{uuid.uuid4().hex[:8]}"
    async with scratch_database(admin_url, name) as (_dsn, url):
        return await measure(sizes, admin_url, name, url)


async def measure(sizes: Sizes, admin_url: str, name: str, url: str) -> list[Figure]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=emulator_process, args=(child,), daemon=True
    )
    process.start()
    loop = asyncio.get_running_loop()
    base_url, offset_minutes = await loop.run_in_executor(None, parent.recv)
    db = Database.from_url(url, pool_size=10)
    figures: list[Figure] = []
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        baseline = await baseline_insert_rate(url, sizes.backfill)
        base = ("raw_insert_rows_per_s", baseline)
        progress(f"baseline {baseline:,.0f} rows/s")
        server_id, directory = await setup_crm(db, base_url, offset_minutes, sizes.logins)
        progress(f"{sizes.logins} accounts opened")

        # --- backfill: deals spread over the last 10 hours ------------------------------------
        parent.send(("backfill", sizes.backfill))
        last_backfill_ticket = await loop.run_in_executor(None, parent.recv)
        progress("deals made on the emulator")
        timed = TimedPlatform(await directory.platform(server_id))

        async def source(_: int) -> Any:
            return timed

        policy = SyncPolicy(chunk=timedelta(minutes=30), initial_backfill=timedelta(hours=11))
        owner = await acquire_lease(db, server_id, policy)
        assert owner is not None
        postgres_cpu = await postgres_cpu_seconds(admin_url, name)
        parent.send(("cpu",))
        emulator_cpu = await loop.run_in_executor(None, parent.recv)
        bridge_cpu = time.process_time()
        started = time.perf_counter()
        seen, _ = await pull_deals(db, source, server_id, owner, policy)
        ingest_seconds = time.perf_counter() - started
        bridge_cpu = time.process_time() - bridge_cpu
        parent.send(("cpu",))
        emulator_cpu = await loop.run_in_executor(None, parent.recv) - emulator_cpu
        postgres_after = await postgres_cpu_seconds(admin_url, name)
        await release_lease(db, server_id, owner)
        assert seen >= sizes.backfill, seen
        progress(f"ingested {seen} in {ingest_seconds:.1f}s")
        started = time.perf_counter()
        posted = await post_pending_deals(db, server_id, batch=5000)
        posting_seconds = time.perf_counter() - started
        progress(f"posted {posted.deals} in {posting_seconds:.1f}s")
        per_row = ("raw_insert_us_per_row", 1e6 / baseline)
        cpu = {"bridge": bridge_cpu, "emulator": emulator_cpu}
        if postgres_cpu is not None and postgres_after is not None:
            cpu["postgres"] = postgres_after - postgres_cpu
        figures += [
            Figure("raw_insert_rows_per_s", baseline, "1/s", *base),
            Figure("backfill_ingest_deals_per_s", seen / ingest_seconds, "1/s", *base),
            Figure("backfill_fetch_and_map_deals_per_s", seen / timed.fetch_seconds, "1/s", *base),
            *(
                Figure(f"backfill_{where}_cpu_us_per_deal", used / seen * 1e6, "us", *per_row, False)
                for where, used in cpu.items()
            ),
            Figure("ledger_posting_deals_per_s", posted.deals / posting_seconds, "1/s", *base),
        ]

        # --- lag at a steady 200 closing deals/s ----------------------------------------------
        steady = replace(policy, overlap=timedelta(milliseconds=500), safety_lag=timedelta(milliseconds=500))
        platform = await directory.platform(server_id)

        async def plain(_: int) -> Any:
            return platform

        parent.send(("steady", STEADY_RATE, sizes.steady_seconds))
        made_future = loop.run_in_executor(None, parent.recv)
        lags: list[float] = []
        done: set[int] = set()
        while not made_future.done() or len(done) < made_future.result():
            lease = await acquire_lease(db, server_id, steady)
            assert lease is not None
            try:
                await pull_deals(db, plain, server_id, lease, steady)
            finally:
                await release_lease(db, server_id, lease)
            await post_pending_deals(db, server_id)
            posted_at = time.time()
            async with db.session() as session:
                rows = (
                    await session.execute(
                        select(MirroredDeal.ticket, MirroredDeal.time).where(
                            MirroredDeal.server_id == server_id,
                            MirroredDeal.ticket > last_backfill_ticket,
                            MirroredDeal.needs_posting.is_(False),
                        )
                    )
                ).all()
            for ticket, moment in rows:
                if ticket not in done:
                    done.add(ticket)
                    lags.append(posted_at - moment.timestamp())
            await asyncio.sleep(0.05)
        made = made_future.result()
        lags.sort()
        p50 = lags[len(lags) // 2]
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        figures += [
            Figure("steady_deals_per_s", made / sizes.steady_seconds, "1/s", *base),
            Figure("close_to_ledger_lag_p50_s", p50, "s", "target_p99_s", 2.0, higher_is_better=False),
            Figure("close_to_ledger_lag_p99_s", p99, "s", "target_p99_s", 2.0, higher_is_better=False),
        ]
        await directory.close()
    finally:
        parent.send(("stop",))
        process.join(10)
        await db.dispose()
    return figures


def progress(message: str) -> None:
    print(f"[{time.strftime('%X')}] {message}", file=sys.stderr, flush=True)


def report(figures: list[Figure]) -> None:
    print(f"{'metric':<40} {'value':>14} {'unit':>5} {'ratio':>8}  baseline")
    for f in figures:
        print(f"{f.metric:<40} {f.value:>14,.3f} {f.unit:>5} {f.ratio:>8.3f}  {f.baseline}")
    print_json_lines(BENCH, figures, value_digits=4, ratio_digits=4)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter steady phase and fewer logins (< 1 min)"
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="a PostgreSQL database to connect to while creating and dropping the bench database",
    )
    args = parser.parse_args()
    report(asyncio.run(run(QUICK if args.quick else FULL, args.admin_url)))


if __name__ == "__main__":
    main()

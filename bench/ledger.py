"""Ledger posting benchmark on PostgreSQL (DESIGN.md §12).

Measures, in one run and on one freshly migrated database:

* the raw INSERT rate of the same number of rows into an unconstrained table (the baseline), and
  the latency of single-row INSERT transactions from 16 concurrent clients;
* batched posting throughput with 10,000 accounts, uniform and Zipf-skewed;
* a hot account: every transfer touches one house account (batched, and from 16 single posters);
* 16 concurrent single-transfer posters: throughput and p50/p99 latency, each transfer in its own
  transaction, and again through :class:`ledger.batcher.PostingBatcher` (group commit).

Prints a table, then one JSON object per figure per line. ``--quick`` finishes in under a minute;
``--profile`` prints where the batched run spends its time.

    python bench/ledger.py [--quick] [--profile] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import cProfile
import itertools
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import DEFAULT_ADMIN_URL, Figure, print_json_lines, scratch_database
from core.db import Database, migrate
from ledger import chart, posting
from ledger.batcher import PostingBatcher
from ledger.chart import Purpose
from ledger.requests import Journal, posted

BENCH = "ledger"
ACCOUNTS = 10_000
BATCH = 1_000
POSTERS = 16
ZIPF_S = 1.1
FUNDING = 10**12


@dataclass(frozen=True)
class Sizes:
    batched: int
    hot: int
    singles_per_poster: int


FULL = Sizes(batched=100_000, hot=50_000, singles_per_poster=300)
QUICK = Sizes(batched=20_000, hot=10_000, singles_per_poster=60)


class Keys:
    """Fresh idempotency keys for every transfer of the run."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"bench:{next(self._counter)}"


def zipf_picker(count: int, s: float, rng: random.Random) -> Callable[[], int]:
    weights = [1.0 / (rank**s) for rank in range(1, count + 1)]
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    order = list(range(count))
    rng.shuffle(order)  # the popular accounts are spread over the id range

    def pick() -> int:
        return order[bisect.bisect_left(cumulative, rng.random() * total)]

    return pick


async def raw_insert_rate(dsn: str, rows: int) -> float:
    """Rows per second into an unconstrained table: 1,000-row INSERTs, one transaction each, as posting."""
    connection = await asyncpg.connect(dsn)
    try:
        # no key, no index, no constraint: the fastest INSERT this server can do
        await connection.execute(
            "CREATE TABLE raw_rows (a BIGINT, b BIGINT, amount BIGINT, key TEXT,"
            " at TIMESTAMPTZ DEFAULT now())"
        )
        statement = await connection.prepare(
            "INSERT INTO raw_rows (a, b, amount, key)"
            " SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[])"
        )
        rng = random.Random(7)
        started = time.perf_counter()
        for start in range(0, rows, BATCH):
            n = min(BATCH, rows - start)
            a = [rng.randrange(ACCOUNTS) for _ in range(n)]
            b = [rng.randrange(ACCOUNTS) for _ in range(n)]
            async with connection.transaction():
                await statement.fetch(a, b, [100] * n, [f"raw:{start + i}" for i in range(n)])
        return rows / (time.perf_counter() - started)
    finally:
        await connection.close()


async def raw_single_inserts(dsn: str, per_client: int) -> tuple[float, list[float]]:
    """16 clients each committing single-row INSERTs: rows/s and every latency in ms."""
    latencies: list[float] = []

    async def client(n: int) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            for i in range(per_client):
                started = time.perf_counter()
                await connection.execute(
                    "INSERT INTO raw_rows (a, b, amount, key) VALUES ($1, $2, 100, $3)", n, i, f"s{n}:{i}"
                )
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(POSTERS)))
    return POSTERS * per_client / (time.perf_counter() - started), latencies


async def setup_book(db: Database) -> tuple[int, int, list[int]]:
    async with db.transaction() as session:
        house = await chart.ensure_system_accounts(session, "USD", psps=["bench-psp"])
        wallets = await chart.open_owner_accounts(
            session, Purpose.CLIENT_WALLET, [f"client-{n}" for n in range(ACCOUNTS)], "USD"
        )
    clearing = house.psp_clearing["bench-psp"]
    ids = list(wallets.values())
    for start in range(0, len(ids), BATCH):
        results = await posting.post(
            db,
            [
                Journal(
                    [
                        posted(
                            f"fund:{account}", debit=clearing, credit=account, amount=FUNDING, currency="USD"
                        )
                    ]
                )
                for account in ids[start : start + BATCH]
            ],
        )
        assert all(r.ok for r in results)
    return clearing, house[Purpose.FEES_REVENUE], ids


async def batched(db: Database, total: int, pairs: Callable[[], tuple[int, int]], keys: Keys) -> float:
    """Transfers per second, posting ``BATCH`` single-transfer journals per call."""
    batches = []
    for start in range(0, total, BATCH):
        journals = []
        for _ in range(min(BATCH, total - start)):
            debit, credit = pairs()
            journals.append(
                Journal(
                    [
                        posted(
                            keys(), debit=debit, credit=credit, amount=random.randint(1, 100), currency="USD"
                        )
                    ]
                )
            )
        batches.append(journals)
    started = time.perf_counter()
    for journals in batches:
        results = await posting.post(db, journals)
        assert all(r.ok for r in results), [r.refusal for r in results if not r.ok][:3]
    return total / (time.perf_counter() - started)


async def single_posters(
    db: Database,
    per_poster: int,
    pairs: Callable[[], tuple[int, int]],
    keys: Keys,
    batcher: PostingBatcher | None = None,
) -> tuple[float, list[float]]:
    """16 posters, each posting one transfer at a time: its own transaction, or through group commit."""
    latencies: list[float] = []
    send = batcher.post if batcher else (lambda journals: posting.post(db, journals))

    async def poster() -> None:
        for _ in range(per_poster):
            debit, credit = pairs()
            journal = Journal(
                [posted(keys(), debit=debit, credit=credit, amount=random.randint(1, 100), currency="USD")]
            )
            started = time.perf_counter()
            [result] = await send([journal])
            latencies.append((time.perf_counter() - started) * 1000)
            assert result.ok, result

    started = time.perf_counter()
    await asyncio.gather(*(poster() for _ in range(POSTERS)))
    return POSTERS * per_poster / (time.perf_counter() - started), latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(admin_url: str, sizes: Sizes, profile: bool) -> list[Figure]:
    async with scratch_database(admin_url, f"bd_bench_{os.getpid()}") as (dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database.from_url(url, pool_size=POSTERS)
        try:
            return await measure(db, dsn, sizes, profile)
        finally:
            await db.dispose()


async def measure(db: Database, dsn: str, sizes: Sizes, profile: bool) -> list[Figure]:
    rng = random.Random(42)
    keys = Keys()
    _clearing, house, wallets = await setup_book(db)

    def uniform() -> tuple[int, int]:
        a, b = rng.sample(wallets, 2)
        return a, b

    zipf = zipf_picker(len(wallets), ZIPF_S, rng)

    def skewed() -> tuple[int, int]:
        a = zipf()
        b = zipf()
        while b == a:
            b = zipf()
        return wallets[a], wallets[b]

    def hot() -> tuple[int, int]:
        return rng.choice(wallets), house  # a fee: every transfer credits the one fees account

    raw_rate = await raw_insert_rate(dsn, sizes.batched)
    raw_single_rate, raw_latencies = await raw_single_inserts(dsn, sizes.singles_per_poster)
    raw_p50 = percentile(raw_latencies, 0.50)
    raw_p99 = percentile(raw_latencies, 0.99)

    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    uniform_rate = await batched(db, sizes.batched, uniform, keys)
    if profiler:
        profiler.disable()
    zipf_rate = await batched(db, sizes.batched, skewed, keys)
    hot_rate = await batched(db, sizes.hot, hot, keys)
    single_rate, latencies = await single_posters(db, sizes.singles_per_poster, uniform, keys)
    grouped_rate, grouped_latencies = await single_posters(
        db, sizes.singles_per_poster * 4, uniform, keys, PostingBatcher(db)
    )
    hot_single_rate, hot_latencies = await single_posters(db, sizes.singles_per_poster // 2, hot, keys)
    hot_grouped_rate, _ = await single_posters(
        db, sizes.singles_per_poster * 2, hot, keys, PostingBatcher(db)
    )
    if profiler:
        print("\nprofile of the uniform batched run (top 25 by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    base, lat = "raw_insert_rows_per_s", "raw_single_insert_p50_ms"
    return [
        Figure("raw_insert_rows_per_s", raw_rate, "1/s", base, raw_rate),
        Figure("raw_single_insert_rows_per_s", raw_single_rate, "1/s", base, raw_rate),
        Figure("raw_single_insert_p50_ms", raw_p50, "ms", lat, raw_p50, higher_is_better=False),
        Figure(
            "raw_single_insert_p99_ms",
            raw_p99,
            "ms",
            "raw_single_insert_p99_ms",
            raw_p99,
            higher_is_better=False,
        ),
        Figure("batched_transfers_per_s", uniform_rate, "1/s", base, raw_rate),
        Figure("batched_zipf_transfers_per_s", zipf_rate, "1/s", base, raw_rate),
        Figure("hot_account_batched_transfers_per_s", hot_rate, "1/s", base, raw_rate),
        Figure("hot_account_single_posters_transfers_per_s", hot_single_rate, "1/s", base, raw_rate),
        Figure("hot_account_group_commit_transfers_per_s", hot_grouped_rate, "1/s", base, raw_rate),
        Figure("concurrent_single_transfers_per_s", single_rate, "1/s", base, raw_rate),
        Figure(
            "concurrent_single_p50_ms",
            percentile(latencies, 0.50),
            "ms",
            lat,
            raw_p50,
            higher_is_better=False,
        ),
        Figure(
            "concurrent_single_p99_ms",
            percentile(latencies, 0.99),
            "ms",
            "raw_single_insert_p99_ms",
            raw_p99,
            higher_is_better=False,
        ),
        Figure(
            "hot_account_single_p50_ms",
            percentile(hot_latencies, 0.50),
            "ms",
            lat,
            raw_p50,
            higher_is_better=False,
        ),
        Figure("concurrent_group_commit_transfers_per_s", grouped_rate, "1/s", base, raw_rate),
        Figure(
            "concurrent_group_commit_p50_ms",
            percentile(grouped_latencies, 0.50),
            "ms",
            lat,
            raw_p50,
            higher_is_better=False,
        ),
        Figure(
            "concurrent_group_commit_p99_ms",
            percentile(grouped_latencies, 0.99),
            "ms",
            "raw_single_insert_p99_ms",
            raw_p99,
            higher_is_better=False,
        ),
    ]


TARGETS = {
    "batched_transfers_per_s": 10_000,
    "batched_zipf_transfers_per_s": 10_000,
    "hot_account_batched_transfers_per_s": 2_000,
    "concurrent_single_transfers_per_s": 1_000,
    "concurrent_group_commit_transfers_per_s": 1_000,
    "hot_account_group_commit_transfers_per_s": 2_000,
}


def report(figures: list[Figure], sizes: Sizes) -> None:
    print(f"\nledger benchmark: {ACCOUNTS:,} accounts, batches of {BATCH:,}, {POSTERS} single posters, "
          f"{sizes.batched:,} batched transfers per load")  # fmt: skip
    print(f"{'metric':<50}{'value':>14} {'unit':<5}{'ratio':>9}  {'target':<16} baseline")
    for figure in figures:
        target = TARGETS.get(figure.metric)
        verdict = (
            "" if target is None else (f">={target:,} " + ("ok" if figure.value >= target else "MISSED"))
        )
        value = f"{figure.value:>14,.1f} {figure.unit:<5}{figure.ratio:>9.3f}"
        print(f"{figure.metric:<50}{value}  {verdict:<16} {figure.baseline}")
    print()
    print_json_lines(BENCH, figures, value_digits=1, ratio_digits=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller loads; finishes in under a minute")
    parser.add_argument("--profile", action="store_true", help="profile the uniform batched run")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    random.seed(1)
    figures = asyncio.run(run(args.admin_url, sizes, args.profile))
    report(figures, sizes)


if __name__ == "__main__":
    main()

"""Real parallel transactions on PostgreSQL: overdraft races, lock ordering, a killed poster.

SQLite has one writer at a time, so these races can't happen there; the module runs on the
PostgreSQL pass of the suite.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import asyncpg
import pytest
from sqlalchemy import text

from core.db import Database
from ledger import chart, posting
from ledger.chart import Purpose
from ledger.reading import get_balance
from ledger.requests import Journal, Refusal, posted
from tests.conftest import BACKEND
from tests.integration.ledger import poster_process
from tests.integration.ledger.conftest import Book, count_rows, deposit
from tests.integration.ledger.invariants import assert_ledger_invariants

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
async def wide_db(database_url: str) -> Database:
    """A database handle with enough connections for 50 truly parallel transactions."""
    database = Database.from_url(database_url, pool_size=25)
    yield database  # type: ignore[misc]
    await database.dispose()


async def test_fifty_concurrent_debits_never_overdraw_the_wallet(book: Book, wide_db: Database) -> None:
    await deposit(book, "fund", book.alice, 1_000)
    start = asyncio.Event()

    async def debit(n: int) -> Refusal | None:
        await start.wait()
        [result] = await posting.post(
            wide_db,
            [Journal([posted(f"debit-{n}", debit=book.alice, credit=book.bob, amount=30, currency="USD")])],
        )
        return result.refusal

    tasks = [asyncio.create_task(debit(n)) for n in range(50)]
    await asyncio.sleep(0.05)
    start.set()
    refusals = await asyncio.gather(*tasks)
    assert refusals.count(None) == 33  # exactly the affordable ones: 33 * 30 = 990 <= 1000
    assert refusals.count(Refusal.INSUFFICIENT_FUNDS) == 17
    alice = await get_balance(book.db, book.alice)
    assert alice.posted == 10
    async with book.db.engine.connect() as connection:
        lowest = (
            await connection.execute(
                text("SELECT MIN(balance_after) FROM entries WHERE account_id = :a"), {"a": book.alice}
            )
        ).scalar_one()
    assert lowest >= 0  # never below zero at any point of the history
    await assert_ledger_invariants(book.db)


async def test_ring_transfers_over_overlapping_accounts_do_not_deadlock(
    book: Book, wide_db: Database
) -> None:
    size = 8
    async with book.db.transaction() as session:
        ring = [
            await chart.open_owner_account(session, Purpose.CLIENT_WALLET, f"ring-{i}", "USD")
            for i in range(size)
        ]
    fund = await posting.post(
        book.db,
        [
            Journal([posted(f"ring-fund-{i}", debit=book.clearing, credit=a, amount=10_000, currency="USD")])
            for i, a in enumerate(ring)
        ],
    )
    assert all(r.ok for r in fund)
    expected = dict.fromkeys(ring, 10_000)
    batches: list[list[Journal]] = []
    for b in range(40):
        journals = []
        for k in range(size):
            i = (b + k) % size
            # even batches go round clockwise, odd ones anticlockwise, so lock orders would cross
            src, dst = (ring[i], ring[(i + 1) % size]) if b % 2 == 0 else (ring[(i + 1) % size], ring[i])
            amount = 1 + (b * size + k) % 7
            expected[src] -= amount
            expected[dst] += amount
            journals.append(
                Journal([posted(f"ring-{b}-{k}", debit=src, credit=dst, amount=amount, currency="USD")])
            )
        batches.append(journals)
    start = asyncio.Event()

    async def run(journals: list[Journal]) -> list[bool]:
        await start.wait()
        return [r.ok for r in await posting.post(wide_db, journals)]

    tasks = [asyncio.create_task(run(journals)) for journals in batches]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    assert all(all(batch) for batch in outcomes)
    for account, balance in expected.items():
        assert (await get_balance(book.db, account)).posted == balance
    await assert_ledger_invariants(book.db)


async def _backend_query(admin: asyncpg.Connection) -> tuple[int, str] | None:
    row = await admin.fetchrow(
        "SELECT pid, query FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
        poster_process.APPLICATION_NAME,
    )
    return (row["pid"], row["query"]) if row else None


async def test_a_poster_killed_mid_batch_leaves_nothing_and_a_replay_applies_once(
    book: Book, database_url: str
) -> None:
    count = 20_000
    wallets = [book.alice, book.bob]
    prefix = "killed"
    child = subprocess.Popen(  # noqa: ASYNC220 - a real process that we SIGKILL
        [
            sys.executable,
            "-m",
            "tests.integration.ledger.poster_process",
            database_url,
            prefix,
            str(count),
            str(book.clearing),
            *map(str, wallets),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        seen = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            seen = await _backend_query(admin)
            if seen and "INSERT INTO entries" in seen[1]:
                break
            await asyncio.sleep(0.002)
        assert seen is not None, "the poster never reached its bulk write"
        assert "INSERT INTO entries" in seen[1], seen
        os.kill(child.pid, signal.SIGKILL)  # mid-batch: the bulk write is running, nothing committed yet
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        for _ in range(500):  # the server notices the dead client and rolls its transaction back
            if await _backend_query(admin) is None and not await admin.fetchval(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
                poster_process.APPLICATION_NAME,
            ):
                break
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
        if child.poll() is None:
            child.kill()
            child.wait()

    assert await count_rows(book.db, "transfers") == 0  # all or nothing: nothing
    assert (await get_balance(book.db, book.alice)).posted == 0

    journals = poster_process.batch(prefix, count, book.clearing, wallets)
    first = await posting.post(book.db, journals)
    assert all(r.ok and not r.replayed for r in first)
    again = await posting.post(book.db, journals)
    assert all(r.ok and r.replayed for r in again)
    assert [r.transfer_id for r in again] == [r.transfer_id for r in first]
    assert await count_rows(book.db, "transfers") == count
    total = count * poster_process.AMOUNT
    assert (await get_balance(book.db, book.alice)).posted + (
        await get_balance(book.db, book.bob)
    ).posted == total
    await assert_ledger_invariants(book.db)


async def test_one_key_raced_by_two_different_requests_applies_once(book: Book, wide_db: Database) -> None:
    """Disjoint accounts don't serialize on locks, so the unique key is the referee: the loser's
    transaction is retried and answers with an idempotency refusal."""
    async with book.db.transaction() as session:
        carol = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "carol", "USD")
        dave = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "dave", "USD")
    other_clearing = book.usd.house[Purpose.SUSPENSE]
    start = asyncio.Event()

    async def race(key: str, debit: int, credit: int) -> Refusal | None:
        await start.wait()
        [result] = await posting.post(
            wide_db, [Journal([posted(key, debit=debit, credit=credit, amount=7, currency="USD")])]
        )
        return result.refusal

    tasks = []
    for n in range(10):
        tasks.append(asyncio.create_task(race(f"race-{n}", book.clearing, book.alice)))
        tasks.append(asyncio.create_task(race(f"race-{n}", other_clearing, carol if n % 2 else dave)))
    await asyncio.sleep(0.05)
    start.set()
    refusals = await asyncio.gather(*tasks)
    for n in range(10):
        pair = refusals[2 * n : 2 * n + 2]
        assert sorted(pair, key=str) == sorted([None, Refusal.IDEMPOTENCY_CONFLICT], key=str), pair
    assert await count_rows(book.db, "transfers") == 10
    await assert_ledger_invariants(book.db)

"""Group commit: concurrent callers share batches but each gets exactly its own outcome."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from ledger.batcher import PostingBatcher
from ledger.errors import InvalidBatchError
from ledger.reading import get_balance
from ledger.requests import Journal, Refusal, posted
from tests.integration.ledger.conftest import Book, count_rows, deposit
from tests.integration.ledger.invariants import assert_ledger_invariants


async def test_concurrent_callers_get_their_own_results(book: Book) -> None:
    await deposit(book, "fund", book.alice, 1_000)
    batcher = PostingBatcher(book.db, max_transfers=8)

    async def spend(n: int) -> list[tuple[int, Refusal | None]]:
        journals = [
            Journal([posted(f"spend-{n}", debit=book.alice, credit=book.bob, amount=60, currency="USD")])
        ]
        if n % 5 == 0:  # a second journal of this caller that can never pass
            journals.append(
                Journal([posted(f"bad-{n}", debit=book.alice, credit=book.alice, amount=1, currency="USD")])
            )
        return [(r.journal_index, r.refusal) for r in await batcher.post(journals)]

    outcomes = await asyncio.gather(*(spend(n) for n in range(30)))
    firsts = [outcome[0] for outcome in outcomes]
    assert all(index == 0 for index, _ in firsts)
    assert sum(refusal is None for _, refusal in firsts) == 16  # 16 * 60 = 960 <= 1000
    assert all(refusal is Refusal.INSUFFICIENT_FUNDS for _, refusal in firsts if refusal is not None)
    for n, outcome in enumerate(outcomes):
        if n % 5 == 0:
            assert outcome[1] == (1, Refusal.SAME_ACCOUNT)
    assert (await get_balance(book.db, book.alice)).posted == 40
    assert await count_rows(book.db, "transfers") == 1 + 16
    await assert_ledger_invariants(book.db)


async def test_the_same_key_from_two_callers_applies_once(book: Book) -> None:
    batcher = PostingBatcher(book.db)
    journal = Journal([posted("dep", debit=book.clearing, credit=book.alice, amount=5, currency="USD")])
    first, second = await asyncio.gather(batcher.post([journal]), batcher.post([journal]))
    assert first[0].transfer_id == second[0].transfer_id
    assert {first[0].replayed, second[0].replayed} == {False, True}
    assert (await get_balance(book.db, book.alice)).posted == 5


async def test_malformed_posts_fail_only_their_caller(book: Book) -> None:
    batcher = PostingBatcher(book.db)
    with pytest.raises(InvalidBatchError):
        await batcher.post([Journal([])])
    [ok] = await batcher.post(
        [Journal([posted("d", debit=book.clearing, credit=book.alice, amount=5, currency="USD")])]
    )
    assert ok.ok


async def test_callers_woken_by_one_batch_share_the_next_one(book: Book) -> None:
    """Every transfer of one batch carries the batch's timestamp, so the distinct timestamps count
    the posting transactions: three rounds of eight callers make three, not one per caller."""
    await deposit(book, "fund", book.alice, 1_000)
    batcher = PostingBatcher(book.db)

    async def caller(n: int) -> None:
        for round_ in range(3):
            journal = Journal(
                [posted(f"c{n}-{round_}", debit=book.alice, credit=book.bob, amount=1, currency="USD")]
            )
            [result] = await batcher.post([journal])
            assert result.ok

    await asyncio.gather(*(caller(n) for n in range(8)))
    async with book.db.engine.connect() as connection:
        batches = (
            await connection.execute(
                text("SELECT COUNT(DISTINCT created_at) FROM transfers WHERE idempotency_key <> 'fund'")
            )
        ).scalar_one()
    assert batches == 3
    assert (await get_balance(book.db, book.bob)).posted == 24

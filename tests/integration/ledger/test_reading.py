"""Balances, past balances, statements and the trial balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger import posting
from ledger.reading import balance_at, get_balance, statement, trial_balance
from ledger.requests import Journal, pending, posted
from tests.integration.ledger.conftest import Book

T0 = datetime(2030, 3, 1, 9, tzinfo=UTC)


async def _history(book: Book) -> None:
    """Alice: +1000 at T0, -300 at T0+1h, +50 at T0+2h, then a pending 200 out at T0+3h."""
    steps = [
        (T0, posted("h1", debit=book.clearing, credit=book.alice, amount=1_000, currency="USD")),
        (
            T0 + timedelta(hours=1),
            posted("h2", debit=book.alice, credit=book.bob, amount=300, currency="USD"),
        ),
        (
            T0 + timedelta(hours=2),
            posted("h3", debit=book.clearing, credit=book.alice, amount=50, currency="USD"),
        ),
        (
            T0 + timedelta(hours=3),
            pending("h4", debit=book.alice, credit=book.bob, amount=200, currency="USD"),
        ),
    ]
    for moment, request in steps:
        [result] = await posting.post(book.db, [Journal([request])], now=moment)
        assert result.ok


async def test_posted_pending_and_available_balances(book: Book) -> None:
    await _history(book)
    alice = await get_balance(book.db, book.alice)
    assert (alice.posted, alice.pending_out, alice.pending_in, alice.available) == (750, 200, 0, 550)
    bob = await get_balance(book.db, book.bob)
    assert (bob.posted, bob.pending_out, bob.pending_in, bob.available) == (300, 0, 200, 300)


async def test_balance_at_any_past_moment(book: Book) -> None:
    await _history(book)
    assert await balance_at(book.db, book.alice, T0 - timedelta(seconds=1)) == 0
    assert await balance_at(book.db, book.alice, T0) == 1_000
    assert await balance_at(book.db, book.alice, T0 + timedelta(minutes=90)) == 700
    assert await balance_at(book.db, book.alice, T0 + timedelta(hours=2, minutes=1)) == 750
    assert await balance_at(book.db, book.alice, T0 + timedelta(days=1)) == 750
    eastern = T0.astimezone(UTC).replace(tzinfo=None)
    assert await balance_at(book.db, book.alice, eastern.replace(tzinfo=UTC) + timedelta(hours=1)) == 700


async def test_statement_pages_with_running_balance_and_opening_balance(book: Book) -> None:
    await _history(book)
    first = await statement(
        book.db, book.alice, start=T0 + timedelta(minutes=30), end=T0 + timedelta(days=1), limit=2
    )
    assert first.opening_balance == 1_000
    assert [(line.posted_change, line.balance_after) for line in first.lines] == [(-300, 700), (50, 750)]
    assert first.next_after_version is not None
    second = await statement(
        book.db,
        book.alice,
        start=T0 + timedelta(minutes=30),
        end=T0 + timedelta(days=1),
        after_version=first.next_after_version,
        limit=2,
    )
    assert [
        (line.kind, line.posted_change, line.pending_change, line.balance_after) for line in second.lines
    ] == [("pending", 0, 200, 750)]
    assert second.next_after_version is None
    empty = await statement(book.db, book.alice, start=T0 + timedelta(days=2), end=T0 + timedelta(days=3))
    assert (empty.opening_balance, empty.lines) == (750, [])


async def test_trial_balance_sums_to_zero_per_currency(book: Book) -> None:
    await _history(book)
    usd = await trial_balance(book.db, "USD")
    assert usd.net == 0
    assert usd.balanced
    assert usd.total_debits == usd.total_credits == 1_350
    by_purpose = {line.purpose: line for line in usd.lines}
    assert by_purpose["client_wallet"].credits - by_purpose["client_wallet"].debits == 1_050
    assert by_purpose["psp_clearing"].net_debit == 1_050
    assert (await trial_balance(book.db, "EUR")).total_debits == 0

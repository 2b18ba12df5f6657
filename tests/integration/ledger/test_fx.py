"""FX on the database: immutable rate rows, conversion journals that balance per currency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger import fx, posting
from ledger.chart import Purpose
from ledger.errors import InvalidRateError, RateNotFoundError
from ledger.reading import get_balance, trial_balance
from tests.integration.ledger.conftest import Book, deposit

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


async def test_rates_are_immutable_rows_and_the_latest_one_applies(book: Book) -> None:
    async with book.db.transaction() as session:
        old = await fx.record_rate(
            session,
            base="EUR",
            quote="USD",
            rate=Decimal("1.08"),
            spread=Decimal("0.002"),
            source="ecb",
            observed_at=T0,
        )
        new = await fx.record_rate(
            session,
            base="EUR",
            quote="USD",
            rate=Decimal("1.0857123456"),
            spread=Decimal("0.0015"),
            source="lmax",
            observed_at=T0 + timedelta(minutes=5),
        )
    async with book.db.engine.connect() as connection:
        assert (await fx.latest_rate(connection, "EUR", "USD", at=T0 + timedelta(minutes=1))).id == old.id
        latest = await fx.latest_rate(connection, "EUR", "USD", at=T0 + timedelta(hours=1))
        assert (latest.id, latest.rate, latest.spread, latest.source) == (
            new.id,
            Decimal("1.0857123456"),
            Decimal("0.0015"),
            "lmax",
        )
        with pytest.raises(RateNotFoundError):
            await fx.latest_rate(connection, "EUR", "USD", at=T0 - timedelta(days=1))
    for statement in ("UPDATE fx_rates SET rate = 2", "DELETE FROM fx_rates"):
        with pytest.raises(DBAPIError):
            async with book.db.engine.begin() as connection:
                await connection.execute(text(statement))


INVALID_RATES = [
    (Decimal("0"), Decimal("0")),
    (Decimal("-1"), Decimal("0")),
    (Decimal("1"), Decimal("1")),
    (Decimal("NaN"), Decimal("0")),
    (Decimal("Infinity"), Decimal("0")),
]


async def test_invalid_rates_are_refused(book: Book) -> None:
    async with book.db.transaction() as session:
        for rate, spread in INVALID_RATES:
            with pytest.raises(InvalidRateError):
                await fx.record_rate(
                    session, base="EUR", quote="USD", rate=rate, spread=spread, source="x", observed_at=T0
                )
        with pytest.raises(InvalidRateError):
            await fx.record_rate(
                session,
                base="EUR",
                quote="EUR",
                rate=Decimal(1),
                spread=Decimal(0),
                source="x",
                observed_at=T0,
            )


async def test_a_conversion_posts_two_legs_and_a_spread_and_each_currency_balances(book: Book) -> None:
    await deposit(book, "dep", book.alice, 100_00)
    async with book.db.transaction() as session:
        rate = await fx.record_rate(
            session,
            base="USD",
            quote="EUR",
            rate=Decimal("0.92"),
            spread=Decimal("0.002"),
            source="test",
            observed_at=T0,
        )
        scales = await fx.currency_scales(session, "USD", "EUR")
    quote = fx.quote_sell(rate, sell_currency="USD", sell_amount=100_00, buy_currency="EUR", scales=scales)
    journal = fx.conversion_journal(
        quote,
        key="fx-1",
        client_sell_account=book.alice,
        client_buy_account=book.alice_eur,
        sell_house=book.usd,
        buy_house=book.eur,
    )
    results = await posting.post(book.db, [journal])
    assert [r.ok for r in results] == [True, True, True]
    assert (await get_balance(book.db, book.alice)).posted == 0
    assert (await get_balance(book.db, book.alice_eur)).posted == 91_81
    assert (await get_balance(book.db, book.usd[Purpose.FX_LIQUIDITY])).posted == 100_00
    assert (await get_balance(book.db, book.eur[Purpose.FX_LIQUIDITY])).posted == -92_00
    assert (await get_balance(book.db, book.eur[Purpose.FX_SPREAD_REVENUE])).posted == 19
    for currency in ("USD", "EUR"):
        assert (await trial_balance(book.db, currency)).balanced
    async with book.db.engine.connect() as connection:
        rate_ids = (
            (await connection.execute(text("SELECT DISTINCT rate_id FROM transfers WHERE code LIKE 'fx%'")))
            .scalars()
            .all()
        )
    assert rate_ids == [rate.id]


async def test_a_conversion_the_client_can_not_afford_leaves_no_trace(book: Book) -> None:
    await deposit(book, "dep", book.alice, 10_00)
    async with book.db.transaction() as session:
        rate = await fx.record_rate(
            session,
            base="USD",
            quote="EUR",
            rate=Decimal("0.92"),
            spread=Decimal("0.002"),
            source="t",
            observed_at=T0,
        )
    quote = fx.quote_buy(
        rate, sell_currency="USD", buy_currency="EUR", buy_amount=50_00, scales={"USD": 2, "EUR": 2}
    )
    journal = fx.conversion_journal(
        quote,
        key="fx-2",
        client_sell_account=book.alice,
        client_buy_account=book.alice_eur,
        sell_house=book.usd,
        buy_house=book.eur,
    )
    results = await posting.post(book.db, [journal])
    assert not any(r.ok for r in results)
    assert (await get_balance(book.db, book.alice_eur)).posted == 0
    assert (await get_balance(book.db, book.eur[Purpose.FX_LIQUIDITY])).posted == 0

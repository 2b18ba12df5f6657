"""Reconciliation lists every difference with the outside system and fixes nothing."""

from __future__ import annotations

from core.db import Database
from ledger import chart, posting
from ledger.chart import Purpose
from ledger.reconciliation import DifferenceKind, reconcile
from ledger.requests import Journal, pending, posted
from tests.integration.ledger.conftest import Book, count_rows


async def test_trading_logins_against_the_platform(book: Book, db: Database) -> None:
    async with db.transaction() as session:
        logins = {
            login: await chart.open_owner_account(session, Purpose.TRADING_ACCOUNT, login, "USD")
            for login in ("1001", "1002", "1003")
        }
    results = await posting.post(
        db,
        [
            Journal(
                [posted(f"fund-{login}", debit=book.clearing, credit=account, amount=amount, currency="USD")]
            )
            for (login, account), amount in zip(logins.items(), (500, 250, 75), strict=True)
        ],
    )
    assert all(r.ok for r in results)
    transfers_before = await count_rows(db, "transfers")
    report = await reconcile(
        db,
        source_name="mt5-live",
        purpose=Purpose.TRADING_ACCOUNT,
        currency="USD",
        reported={"1001": 500, "1002": 260, "9999": 40},
    )
    assert not report.matched
    assert report.compared == 4
    found = {(d.owner_id, d.kind, d.ledger_balance, d.reported_balance, d.amount) for d in report.differences}
    assert found == {
        ("1002", DifferenceKind.AMOUNT_MISMATCH, 250, 260, 10),
        ("1003", DifferenceKind.MISSING_IN_SOURCE, 75, 0, -75),
        ("9999", DifferenceKind.MISSING_IN_LEDGER, 0, 40, 40),
    }
    assert await count_rows(db, "transfers") == transfers_before  # never silently fixed


async def test_psp_clearing_against_the_psp_report(book: Book, db: Database) -> None:
    await posting.post(
        db, [Journal([posted("d1", debit=book.clearing, credit=book.alice, amount=900, currency="USD")])]
    )
    matched = await reconcile(
        db, source_name="stripe", purpose=Purpose.PSP_CLEARING, currency="USD", reported={"stripe": 900}
    )
    assert matched.matched
    await posting.post(
        db, [Journal([pending("w1", debit=book.alice, credit=book.bob, amount=100, currency="USD")])]
    )
    available = await reconcile(
        db,
        source_name="wallets",
        purpose=Purpose.CLIENT_WALLET,
        currency="USD",
        reported={"alice": 800},
        use_available=True,
    )
    assert available.matched

"""Shared ledger fixtures: a book with house accounts and a few funded client wallets."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from core.db import Database
from ledger import chart, posting
from ledger.chart import Purpose, SystemAccounts
from ledger.requests import Journal, posted


@dataclass
class Book:
    db: Database
    usd: SystemAccounts
    eur: SystemAccounts
    alice: int
    bob: int
    alice_eur: int

    @property
    def clearing(self) -> int:
        return self.usd.psp_clearing["stripe"]


async def deposit(book: Book, key: str, wallet: int, amount: int, currency: str = "USD") -> int:
    """Fund ``wallet`` from PSP clearing; returns the transfer id."""
    clearing = book.clearing if currency == "USD" else book.eur.psp_clearing["stripe"]
    [result] = await posting.post(
        book.db, [Journal([posted(key, debit=clearing, credit=wallet, amount=amount, currency=currency)])]
    )
    assert result.ok, result
    assert result.transfer_id is not None
    return result.transfer_id


@pytest.fixture
async def book(db: Database) -> Book:
    async with db.transaction() as session:
        usd = await chart.ensure_system_accounts(session, "USD", psps=["stripe"])
        eur = await chart.ensure_system_accounts(session, "EUR", psps=["stripe"])
        alice = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "alice", "USD")
        bob = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "bob", "USD")
        alice_eur = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "alice", "EUR")
    return Book(db, usd, eur, alice, bob, alice_eur)


async def count_rows(db: Database, table: str) -> int:
    async with db.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())

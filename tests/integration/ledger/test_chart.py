"""The broker chart of accounts: every role documented, system accounts created once per currency."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.db import Database
from ledger import chart
from ledger.chart import CHART, Guard, Purpose
from ledger.errors import AccountNotFoundError, UnknownCurrencyError

REQUIRED = {
    Purpose.PSP_CLEARING,
    Purpose.BANK,
    Purpose.WITHDRAWALS_IN_TRANSIT,
    Purpose.CLIENT_WALLET,
    Purpose.TRADING_ACCOUNT,
    Purpose.IB_COMMISSION_PAYABLE,
    Purpose.IB_COMMISSION_EXPENSE,
    Purpose.DEALING_PNL,
    Purpose.FEES_REVENUE,
    Purpose.FX_LIQUIDITY,
    Purpose.SUSPENSE,
}


def test_every_role_of_the_issue_is_in_the_chart_with_a_purpose_written_down() -> None:
    assert set(CHART) >= REQUIRED
    for purpose, role in CHART.items():
        assert role.purpose == purpose
        assert role.normal_side in {"debit", "credit"}
        assert len(role.description) > 60, f"{purpose} needs a real description"


def test_client_money_can_not_go_negative() -> None:
    for purpose in (Purpose.CLIENT_WALLET, Purpose.IB_COMMISSION_PAYABLE, Purpose.WITHDRAWALS_IN_TRANSIT):
        assert CHART[purpose].guard is Guard.DEBITS_MUST_NOT_EXCEED_CREDITS


async def test_system_accounts_are_created_once_per_currency(db: Database) -> None:
    async with db.transaction() as session:
        first = await chart.ensure_system_accounts(session, "USD", psps=["stripe", "skrill"])
    async with db.transaction() as session:
        again = await chart.ensure_system_accounts(session, "USD", psps=["stripe", "skrill"])
        jpy = await chart.ensure_system_accounts(session, "JPY")
    assert first == again
    assert set(first.psp_clearing) == {"stripe", "skrill"}
    assert len(set(first.psp_clearing.values())) == 2
    assert set(first.house) == {p for p, role in CHART.items() if role.owner_kind is chart.OwnerKind.HOUSE}
    assert not set(first.house.values()) & set(jpy.house.values())
    async with db.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT purpose, normal_side, debits_must_not_exceed_credits FROM accounts WHERE id = :id"
                ),
                {"id": first[Purpose.FEES_REVENUE]},
            )
        ).one()
    assert tuple(rows) == ("fees_revenue", "credit", False)
    async with db.engine.connect() as connection:
        assert await chart.find_account(connection, Purpose.BANK, "JPY") == jpy[Purpose.BANK]


async def test_owner_accounts_are_idempotent_and_checked(db: Database) -> None:
    async with db.transaction() as session:
        wallet = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "client-7", "USD")
        assert await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "client-7", "USD") == wallet
        assert await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "client-7", "EUR") != wallet
        assert await chart.find_account(session, Purpose.CLIENT_WALLET, "USD", "client-7") == wallet
        with pytest.raises(UnknownCurrencyError):
            await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "client-7", "XXX")
        with pytest.raises(ValueError, match="house account"):
            await chart.open_owner_account(session, Purpose.BANK, "client-7", "USD")
        with pytest.raises(AccountNotFoundError):
            await chart.find_account(session, Purpose.TRADING_ACCOUNT, "USD", "login-1")


async def test_owner_accounts_open_in_bulk_and_match_one_by_one(db: Database) -> None:
    owners = [f"imported-{n}" for n in range(1_200)]
    async with db.transaction() as session:
        single = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, "imported-7", "USD")
        opened = await chart.open_owner_accounts(session, Purpose.CLIENT_WALLET, owners, "USD")
        again = await chart.open_owner_accounts(session, Purpose.CLIENT_WALLET, owners[:10], "USD")
    assert len(opened) == 1_200
    assert len(set(opened.values())) == 1_200
    assert opened["imported-7"] == single
    assert again == {owner: opened[owner] for owner in owners[:10]}

"""Showing amounts of minor units as people read them, with each currency's own scale."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cashier.money import amount_formatter
from core.db import Database
from ledger.fx import currency_scales

MoneyFormatter = Callable[[int | None, str], str]


async def money_formatter(db: Database, currencies: Iterable[str]) -> MoneyFormatter:
    """``money(123456, "USD")`` → ``"1,234.56 USD"``; an unknown currency shows two decimals."""
    async with db.session() as session:
        scales = await currency_scales(session, *currencies)
    return amount_formatter(scales)

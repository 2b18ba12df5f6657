"""Funding: deposits, withdrawals and net funding by day, by method and by country.

A deposit counts once it is credited, for what reached the wallet; a withdrawal once it is paid.
Both are dated by the UTC day the client made the request. The method is ``wire`` (a bank wire,
in or out) or ``psp:<name>``; the country is the client's country of residence in the newest
version of its KYC profile (empty when the client has none). Amounts stay per currency.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.models import Deposit, DepositStatus, DestinationKind, Withdrawal, WithdrawalStatus
from reports.sql import day_label, day_of, dialect_of, latest_countries
from reports.table import Chart, Column, Kind, Report, Row, Table, fill_days
from reports.window import Window

FIGURES = (
    Column("deposits", "Deposits", Kind.COUNT),
    Column("deposited", "Deposited", Kind.MONEY),
    Column("withdrawals", "Withdrawals", Kind.COUNT),
    Column("withdrawn", "Withdrawn", Kind.MONEY),
    Column("net", "Net funding", Kind.MONEY),
)
ZERO = {"deposits": 0, "deposited": 0, "withdrawals": 0, "withdrawn": 0, "net": 0}
CURRENCY = Column("currency", "Currency")


def _method(kind: str, psp: str | None) -> str:
    if kind in ("wire", DestinationKind.BANK_ACCOUNT):
        return "wire"
    return f"psp:{psp or ''}"


async def _grouped(session: AsyncSession, window: Window, by: str) -> dict[tuple[str, str], Row]:
    """Figures per (``by`` value, currency); ``by`` is ``day``, ``method`` or ``country``."""
    dialect = dialect_of(session)
    country = latest_countries()
    out: dict[tuple[str, str], Row] = defaultdict(lambda: dict(ZERO))

    def key_columns(model: Any, kind: Any) -> list[Any]:
        if by == "day":
            return [day_of(model.created_at, dialect)]
        if by == "method":
            return [kind, model.psp]
        return [func.coalesce(country.c.country, "")]

    deposit_keys = key_columns(Deposit, Deposit.method)
    deposits = (
        select(
            *deposit_keys,
            Deposit.currency,
            func.count(),
            func.sum(func.coalesce(Deposit.credited_amount, Deposit.amount)),
        )
        .where(
            Deposit.status == DepositStatus.CREDITED,
            Deposit.created_at >= window.starts_at,
            Deposit.created_at < window.ends_at,
        )
        .group_by(*deposit_keys, Deposit.currency)
    )
    withdrawal_keys = key_columns(Withdrawal, Withdrawal.destination_kind)
    withdrawals = (
        select(*withdrawal_keys, Withdrawal.currency, func.count(), func.sum(Withdrawal.amount))
        .where(
            Withdrawal.status == WithdrawalStatus.PAID,
            Withdrawal.created_at >= window.starts_at,
            Withdrawal.created_at < window.ends_at,
        )
        .group_by(*withdrawal_keys, Withdrawal.currency)
    )
    if by == "country":
        deposits = deposits.outerjoin(country, country.c.client_id == Deposit.client_id)
        withdrawals = withdrawals.outerjoin(country, country.c.client_id == Withdrawal.client_id)
    for query, count_key, amount_key in (
        (deposits, "deposits", "deposited"),
        (withdrawals, "withdrawals", "withdrawn"),
    ):
        for values in await session.execute(query):
            *keys, currency, count, total = values
            if by == "method":
                key = _method(str(keys[0]), keys[1])
            else:
                key = day_label(keys[0]) if by == "day" else str(keys[0])
            row = out[(key, str(currency))]
            row[count_key] += int(count)
            row[amount_key] += int(total or 0)
    for row in out.values():
        row["net"] = row["deposited"] - row["withdrawn"]
    return out


def _rows(grouped: dict[tuple[str, str], Row], key: str) -> list[Row]:
    return [{key: k, "currency": currency, **grouped[(k, currency)]} for k, currency in sorted(grouped)]


async def funding_report(session: AsyncSession, window: Window) -> Report:
    by_day = fill_days(window, _rows(await _grouped(session, window, "day"), "day"), ["currency"], ZERO)
    by_method = _rows(await _grouped(session, window, "method"), "method")
    by_country = _rows(await _grouped(session, window, "country"), "country")
    return Report(
        "funding",
        "Funding",
        "Credited deposits, paid withdrawals and net funding, dated by the day of the request (UTC).",
        window,
        [
            Table(
                "by_day",
                "By day",
                (Column("day", "Day"), CURRENCY, *FIGURES),
                by_day,
                Chart("line", "day", ("deposited", "withdrawn", "net"), "currency"),
            ),
            Table(
                "by_method",
                "By method",
                (Column("method", "Method"), CURRENCY, *FIGURES),
                by_method,
                Chart("bar", "method", ("deposited", "withdrawn"), "currency"),
            ),
            Table(
                "by_country",
                "By country",
                (Column("country", "Country"), CURRENCY, *FIGURES),
                by_country,
                Chart("bar", "country", ("net",), "currency"),
            ),
        ],
    )

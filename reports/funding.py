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
from reports.sql import day_label, day_of, dialect_of, grouped, latest_countries
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


async def _grouped(session: AsyncSession, window: Window) -> dict[str, dict[tuple[str, str], Row]]:
    """Figures per (day | method | country, currency): each table's rows by its key and currency.

    One grouped read of deposits and one of withdrawals serve the three tables (GROUPING SETS on
    PostgreSQL)."""
    dialect = dialect_of(session)
    country = latest_countries()
    out: dict[str, dict[tuple[str, str], Row]] = {
        by: defaultdict(lambda: dict(ZERO)) for by in ("day", "method", "country")
    }
    sources = (
        (
            Deposit,
            Deposit.method,
            DepositStatus.CREDITED,
            func.coalesce(Deposit.credited_amount, Deposit.amount),
            "deposits",
            "deposited",
        ),
        (
            Withdrawal,
            Withdrawal.destination_kind,
            WithdrawalStatus.PAID,
            Withdrawal.amount,
            "withdrawals",
            "withdrawn",
        ),
    )
    for model, kind, status, amount, count_key, amount_key in sources:

        def build(columns: list[Any], model: Any = model, status: str = status) -> Any:
            return (
                select(*columns)
                .select_from(model)
                .outerjoin(country, country.c.client_id == model.client_id)
                .where(
                    model.status == status,
                    model.created_at >= window.starts_at,
                    model.created_at < window.ends_at,
                )
            )

        keys = {
            "day": day_of(model.created_at, dialect),
            "kind": kind,
            "psp": model.psp,
            "country": func.coalesce(country.c.country, ""),
            "currency": model.currency,
        }
        sets = await grouped(
            session,
            build,
            keys,
            [("day", "currency"), ("kind", "psp", "currency"), ("country", "currency")],
            [func.count(), func.sum(amount)],
        )
        for first, *rest in sets[("day", "currency")]:
            _add(out["day"][(day_label(first), str(rest[0]))], count_key, amount_key, rest[1], rest[2])
        for kind_value, psp, currency, count, total in sets[("kind", "psp", "currency")]:
            _add(
                out["method"][(_method(str(kind_value), psp), str(currency))],
                count_key,
                amount_key,
                count,
                total,
            )
        for country_value, currency, count, total in sets[("country", "currency")]:
            _add(out["country"][(str(country_value), str(currency))], count_key, amount_key, count, total)
    for rows in out.values():
        for row in rows.values():
            row["net"] = row["deposited"] - row["withdrawn"]
    return out


def _add(row: Row, count_key: str, amount_key: str, count: Any, total: Any) -> None:
    """``total`` is a NUMERIC sum of integers on PostgreSQL (a Decimal), exact either way."""
    row[count_key] += int(count)
    row[amount_key] += int(total or 0)


def _rows(grouped: dict[tuple[str, str], Row], key: str) -> list[Row]:
    return [{key: k, "currency": currency, **grouped[(k, currency)]} for k, currency in sorted(grouped)]


async def funding_report(session: AsyncSession, window: Window) -> Report:
    grouped_rows = await _grouped(session, window)
    by_day = fill_days(window, _rows(grouped_rows["day"], "day"), ["currency"], ZERO)
    by_method = _rows(grouped_rows["method"], "method")
    by_country = _rows(grouped_rows["country"], "country")
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

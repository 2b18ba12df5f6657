"""The staff IB report: per IB, its commission lines and amount by period (day or month) and level.

Grouped in the database, so a month of a million lines is one aggregate query, not a million rows
in memory. Periods are UTC calendar days or months, the same boundaries as the rules' caps.
Zeroed lines (a recompute or an edit took their amount away) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import CommissionLine, Partner

GRANULARITIES = ("month", "day")
HEADER = ("partner_id", "client_id", "period", "level", "currency", "lines", "amount")


@dataclass(frozen=True)
class ReportRow:
    partner_id: int
    client_id: int
    period: str
    level: int
    currency: str
    lines: int
    amount: int
    """Minor units of ``currency``."""

    def cells(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in HEADER)


def _period(dialect: str, granularity: str) -> Any:
    """The UTC day or month of a line's deal time as text, the same on both databases."""
    column = CommissionLine.deal_time
    if dialect == "postgresql":
        pattern = "YYYY-MM" if granularity == "month" else "YYYY-MM-DD"
        return func.to_char(func.timezone("UTC", column), pattern)
    return func.strftime("%Y-%m" if granularity == "month" else "%Y-%m-%d", column)


async def commission_report(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    granularity: str = "month",
    partner_id: int | None = None,
) -> list[ReportRow]:
    """Lines and amount per IB, period, level and currency for deals in [start, end)."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
    period = _period(session.get_bind().dialect.name, granularity).label("period")
    query = (
        select(
            CommissionLine.beneficiary_id,
            Partner.client_id,
            period,
            CommissionLine.level,
            CommissionLine.currency,
            func.count(),
            func.sum(CommissionLine.amount),
        )
        .join(Partner, Partner.id == CommissionLine.beneficiary_id)
        .where(
            CommissionLine.deal_time >= start,
            CommissionLine.deal_time < end,
            CommissionLine.amount > 0,
        )
        .group_by(
            CommissionLine.beneficiary_id,
            Partner.client_id,
            period,
            CommissionLine.level,
            CommissionLine.currency,
        )
        .order_by(CommissionLine.beneficiary_id, period, CommissionLine.level, CommissionLine.currency)
    )
    if partner_id is not None:
        query = query.where(CommissionLine.beneficiary_id == partner_id)
    return [
        ReportRow(int(pid), int(client), str(label), int(level), str(currency), int(count), int(total))
        for pid, client, label, level, currency, count, total in await session.execute(query)
    ]


def totals_by_partner(rows: list[ReportRow]) -> dict[tuple[int, str], tuple[int, int]]:
    """(partner, currency) → (lines, amount) over the whole report."""
    out: dict[tuple[int, str], tuple[int, int]] = {}
    for row in rows:
        lines, amount = out.get((row.partner_id, row.currency), (0, 0))
        out[(row.partner_id, row.currency)] = (lines + row.lines, amount + row.amount)
    return out

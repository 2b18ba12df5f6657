"""IB commissions: what each IB earned by level, and the daily total, from the commission lines.

Lines are dated by their deal's time; zeroed lines (a recompute or an edit took their amount away)
are left out, as in the IB desk's own report. Amounts stay per currency.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import CommissionLine, Partner
from reports.sql import day_label, day_of, dialect_of
from reports.table import Chart, Column, Kind, Report, Table, fill_days
from reports.window import Window


def _in_window(window: Window) -> tuple[ColumnElement[bool], ...]:
    return (
        CommissionLine.deal_time >= window.starts_at,
        CommissionLine.deal_time < window.ends_at,
        CommissionLine.amount > 0,
    )


async def commissions_report(session: AsyncSession, window: Window) -> Report:
    by_ib = [
        {
            "partner_id": int(partner_id),
            "client_id": int(client_id),
            "level": int(level),
            "currency": str(currency),
            "lines": int(lines),
            "amount": int(amount),
        }
        for partner_id, client_id, level, currency, lines, amount in await session.execute(
            select(
                CommissionLine.beneficiary_id,
                Partner.client_id,
                CommissionLine.level,
                CommissionLine.currency,
                func.count(),
                func.sum(CommissionLine.amount),
            )
            .join(Partner, Partner.id == CommissionLine.beneficiary_id)
            .where(*_in_window(window))
            .group_by(
                CommissionLine.beneficiary_id,
                Partner.client_id,
                CommissionLine.level,
                CommissionLine.currency,
            )
            .order_by(CommissionLine.beneficiary_id, CommissionLine.level, CommissionLine.currency)
        )
    ]
    day = day_of(CommissionLine.deal_time, dialect_of(session))
    by_day = [
        {"day": day_label(label), "currency": str(currency), "lines": int(lines), "amount": int(amount)}
        for label, currency, lines, amount in await session.execute(
            select(day, CommissionLine.currency, func.count(), func.sum(CommissionLine.amount))
            .where(*_in_window(window))
            .group_by(day, CommissionLine.currency)
        )
    ]
    figures = (
        Column("currency", "Currency"),
        Column("lines", "Lines", Kind.COUNT),
        Column("amount", "Commission", Kind.MONEY),
    )
    return Report(
        "commissions",
        "IB commissions",
        "Commission earned by each IB per level, and per day, for deals in the range (UTC).",
        window,
        [
            Table(
                "by_ib_level",
                "By IB and level",
                (
                    Column("partner_id", "IB"),
                    Column("client_id", "IB client"),
                    Column("level", "Level"),
                    *figures,
                ),
                by_ib,
            ),
            Table(
                "by_day",
                "By day",
                (Column("day", "Day"), *figures),
                fill_days(window, by_day, ["currency"], {"lines": 0, "amount": 0}),
                Chart("line", "day", ("amount",), "currency"),
            ),
        ],
    )

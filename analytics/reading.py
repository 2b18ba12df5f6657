"""The figures as staff read them: one client's for the 360 page, a page of clients' for the list.

Days since the last trade, login and activity are counted in whole days up to now from the stored
moments; the churn flag and the tier are as of the last recompute (``computed_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.models import LOTS_SCALE, ClientMetrics
from core import clock


def days_between(earlier: datetime | None, later: datetime) -> int | None:
    """Whole days from ``earlier`` to ``later``; ``None`` when there is no ``earlier``."""
    if earlier is None:
        return None
    return max(0, (later - clock.as_utc(earlier)).days)


@dataclass(frozen=True)
class ClientFigures:
    """One client's figures, amounts in minor units of ``currency``."""

    client_id: int
    currency: str
    deposited: int
    withdrawn: int
    net_deposits: int
    balance: int
    closing_deals: int
    lots: str
    """Closed volume in lots as decimal text (``"1.5"``), exact."""
    commissions: int
    last_trade_at: datetime | None
    last_login_at: datetime | None
    days_since_trade: int | None
    days_since_login: int | None
    inactive_days: int
    funded: bool
    churn_risk: bool
    value_tier: str
    computed_at: datetime


def _lots(lots_e8: int) -> str:
    text = f"{Decimal(lots_e8).scaleb(-LOTS_SCALE):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _figures(row: ClientMetrics, now: datetime) -> ClientFigures:
    return ClientFigures(
        client_id=row.client_id,
        currency=row.currency,
        deposited=row.deposited,
        withdrawn=row.withdrawn,
        net_deposits=row.net_deposits,
        balance=row.balance,
        closing_deals=row.closing_deals,
        lots=_lots(row.lots_e8),
        commissions=row.commissions,
        last_trade_at=clock.as_utc(row.last_trade_at) if row.last_trade_at else None,
        last_login_at=clock.as_utc(row.last_login_at) if row.last_login_at else None,
        days_since_trade=days_between(row.last_trade_at, now),
        days_since_login=days_between(row.last_login_at, now),
        inactive_days=days_between(row.last_activity_at, now) or 0,
        funded=bool(row.funded),
        churn_risk=bool(row.churn_risk),
        value_tier=row.value_tier,
        computed_at=clock.as_utc(row.computed_at),
    )


async def client_figures(session: AsyncSession, client_id: int) -> ClientFigures | None:
    """The client's figures, or ``None`` until the job has run since the client registered."""
    row = await session.get(ClientMetrics, client_id)
    return _figures(row, clock.utcnow()) if row is not None else None


async def figures_of(session: AsyncSession, client_ids: Sequence[int]) -> dict[int, ClientFigures]:
    """The figures of a page of clients, by id."""
    if not client_ids:
        return {}
    now = clock.utcnow()
    rows = await session.scalars(select(ClientMetrics).where(ClientMetrics.client_id.in_(list(client_ids))))
    return {row.client_id: _figures(row, now) for row in rows}

"""Client acquisition: registrations by day and the conversion funnel of those registrations.

The funnel follows the clients who registered in the range to what they have done since, each
stage inside the one before: registered → verified (KYC approved) → funded (a credited deposit)
→ traded (a buy or sell deal on one of their live trading accounts).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.models import Deposit, DepositStatus
from core.identity.models import CLIENT, User
from kyc.models import CaseStatus, KycCase
from mt_bridge.models import MirroredDeal, TradingAccount
from mt_bridge.records import DealAction
from reports.sql import day_label, day_of, dialect_of
from reports.table import Chart, Column, Kind, Report, Table, fill_days
from reports.window import Window

STAGES = ("registered", "verified", "funded", "traded")
TRADE_ACTIONS = (int(DealAction.BUY), int(DealAction.SELL))


def share(part: int, whole: int) -> Decimal:
    """``part`` of ``whole`` in percent, to one decimal place, rounded half up."""
    if not whole:
        return Decimal("0.0")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


async def funnel_counts(session: AsyncSession, window: Window) -> dict[str, int]:
    funded = select(Deposit.client_id).where(Deposit.status == DepositStatus.CREDITED).distinct().subquery()
    traded = (
        select(TradingAccount.client_id)
        .where(
            TradingAccount.is_demo.is_(False),
            select(MirroredDeal.id)
            .where(
                MirroredDeal.server_id == TradingAccount.server_id,
                MirroredDeal.login == TradingAccount.login,
                MirroredDeal.action.in_(TRADE_ACTIONS),
                MirroredDeal.deleted.is_(False),
            )
            .exists(),
        )
        .distinct()
        .subquery()
    )
    verified = KycCase.client_id.is_not(None)
    is_funded = and_(verified, funded.c.client_id.is_not(None))
    is_traded = and_(is_funded, traded.c.client_id.is_not(None))
    query = (
        select(
            func.count(User.id),
            func.count(KycCase.client_id),
            func.sum(case((is_funded, 1), else_=0)),
            func.sum(case((is_traded, 1), else_=0)),
        )
        .select_from(User)
        .outerjoin(KycCase, and_(KycCase.client_id == User.id, KycCase.status == CaseStatus.APPROVED))
        .outerjoin(funded, funded.c.client_id == User.id)
        .outerjoin(traded, traded.c.client_id == User.id)
        .where(User.kind == CLIENT, User.created_at >= window.starts_at, User.created_at < window.ends_at)
    )
    values = (await session.execute(query)).one()
    return {stage: int(value or 0) for stage, value in zip(STAGES, values, strict=True)}


async def acquisition_report(session: AsyncSession, window: Window) -> Report:
    day = day_of(User.created_at, dialect_of(session))
    registrations = [
        {"day": day_label(label), "registrations": int(count)}
        for label, count in await session.execute(
            select(day, func.count())
            .where(User.kind == CLIENT, User.created_at >= window.starts_at, User.created_at < window.ends_at)
            .group_by(day)
        )
    ]
    counts = await funnel_counts(session, window)
    funnel = [
        {"stage": stage, "clients": counts[stage], "share": share(counts[stage], counts["registered"])}
        for stage in STAGES
    ]
    return Report(
        "acquisition",
        "Client acquisition",
        "New client registrations, and how far the clients registered in the range have come since.",
        window,
        [
            Table(
                "registrations",
                "Registrations by day",
                (Column("day", "Day"), Column("registrations", "Registrations", Kind.COUNT)),
                fill_days(window, registrations, [], {"registrations": 0}),
                Chart("line", "day", ("registrations",)),
            ),
            Table(
                "funnel",
                "Conversion funnel",
                (
                    Column("stage", "Stage", Kind.LABEL),
                    Column("clients", "Clients", Kind.COUNT),
                    Column("share", "Share of registered (per cent)", Kind.PERCENT),
                ),
                funnel,
                Chart("bar", "stage", ("clients",)),
                note="Each stage counts the clients of the one before who also reached it.",
            ),
        ],
    )

"""Trading: active traders and traded volume, by symbol group and by day.

A deal counts when it is a buy or a sell (opening and closing deals alike) that its server has not
deleted, on a live (not demo) trading account or on a login the CRM does not know. Volume is in
lots, summed exactly. An active trader is a client with at least one such deal in the range; a
deal on an unknown login adds volume but no trader. The symbol group is the one the deal's
(normalised) symbol belongs to; a symbol without a group is shown as ungrouped.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mt_bridge.models import MirroredDeal, SymbolGroup, TradingAccount, TradingSymbol
from mt_bridge.records import DealAction
from reports.sql import day_label, day_of, dialect_of, grouped, lots_sum, lots_value
from reports.table import Chart, Column, Kind, Report, Row, Table, fill_days
from reports.window import Window

TRADE_ACTIONS = (int(DealAction.BUY), int(DealAction.SELL))
UNGROUPED = "ungrouped"
FIGURES = (
    Column("traders", "Active traders", Kind.COUNT),
    Column("deals", "Deals", Kind.COUNT),
    Column("lots", "Volume (lots)", Kind.LOTS),
)


def _deals(window: Window, *columns: Any) -> Any:
    return (
        select(*columns)
        .select_from(MirroredDeal)
        .outerjoin(
            TradingAccount,
            and_(
                TradingAccount.server_id == MirroredDeal.server_id, TradingAccount.login == MirroredDeal.login
            ),
        )
        .where(
            MirroredDeal.time >= window.starts_at,
            MirroredDeal.time < window.ends_at,
            MirroredDeal.action.in_(TRADE_ACTIONS),
            MirroredDeal.deleted.is_(False),
            or_(TradingAccount.id.is_(None), TradingAccount.is_demo.is_(False)),
        )
    )


async def trading_report(session: AsyncSession, window: Window) -> Report:
    dialect = dialect_of(session)

    def build(columns: list[Any]) -> Any:
        return _deals(window, *columns).outerjoin(TradingSymbol, TradingSymbol.name == MirroredDeal.symbol)

    sets = await grouped(
        session,
        build,
        {"group": TradingSymbol.symbol_group_id, "day": day_of(MirroredDeal.time, dialect)},
        [("group",), ("day",), ()],
        [
            func.count(func.distinct(TradingAccount.client_id)),
            func.count(),
            lots_sum(MirroredDeal.volume, dialect),
        ],
    )

    def figures(traders: Any, deals: Any, lots: Any) -> Row:
        return {"traders": int(traders), "deals": int(deals), "lots": lots_value(lots, dialect)}

    # grouped by the group's id (an integer sorts and hashes cheaply), named here
    names = {
        int(gid): str(name) for gid, name in await session.execute(select(SymbolGroup.id, SymbolGroup.name))
    }
    by_group = sorted(
        (
            {"group": names.get(int(key), UNGROUPED) if key is not None else UNGROUPED, **figures(*rest)}
            for key, *rest in sets[("group",)]
        ),
        key=lambda r: r["group"],
    )
    by_day = [{"day": day_label(key), **figures(*rest)} for key, *rest in sets[("day",)]]
    summary = [figures(*row) for row in sets[()]] or [figures(0, 0, None)]
    zero = {"traders": 0, "deals": 0, "lots": lots_value(None, dialect)}
    return Report(
        "trading",
        "Trading activity",
        "Active traders, deals and volume in lots of live accounts, by symbol group and by day (UTC).",
        window,
        [
            Table("summary", "Whole range", FIGURES, summary),
            Table(
                "by_group",
                "By symbol group",
                (Column("group", "Symbol group"), *FIGURES),
                by_group,
                Chart("bar", "group", ("lots",)),
            ),
            Table(
                "by_day",
                "By day",
                (Column("day", "Day"), *FIGURES),
                fill_days(window, by_day, [], zero),
                Chart("line", "day", ("traders",)),
            ),
        ],
    )

"""The MetaTrader5 terminal adapter's mapping, on records shaped like the package's named tuples."""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mt_bridge.platform import DealQuery, PositionQuery
from mt_bridge.records import DealAction, DealEntry, PositionSide
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import SymbolAliases
from mt_bridge.terminal.adapter import Mt5TerminalPlatform, TerminalReadOnlyError
from mt_bridge.terminal.mapping import account_from_terminal, deal_from_terminal, position_from_terminal

# Field names and order as the MetaTrader5 package defines its named tuples.
TradeDeal = namedtuple(
    "TradeDeal",
    "ticket order time time_msc type entry magic position_id reason volume price commission swap profit fee"
    " symbol comment external_id",
)
TradePosition = namedtuple(
    "TradePosition",
    "ticket time time_msc time_update time_update_msc type magic identifier reason volume price_open sl tp"
    " price_current swap profit symbol comment external_id",
)
AccountInfo = namedtuple(
    "AccountInfo",
    "login trade_mode leverage limit_orders margin_so_mode trade_allowed trade_expert margin_mode"
    " currency_digits fifo_close balance credit profit equity margin margin_free margin_level margin_so_call"
    " margin_so_so margin_initial margin_maintenance assets liabilities commission_blocked name server"
    " currency company",
)
CLOCK = ServerClock(timedelta(hours=2))
ALIASES = SymbolAliases(suffixes=(".m",))
SERVER_MSC = 1_767_225_600_000  # 2026-01-01 00:00 on the server's clock


def closing_deal() -> TradeDeal:
    return TradeDeal(
        ticket=5001, order=4001, time=SERVER_MSC // 1000, time_msc=SERVER_MSC, type=1, entry=1, magic=0,
        position_id=3001, reason=0, volume=0.3, price=2351.17, commission=-1.05, swap=-0.7, profit=104.1,
        fee=0.0, symbol="XAUUSD.m", comment="closed", external_id="",
    )  # fmt: skip


def account() -> AccountInfo:
    values: dict[str, Any] = dict.fromkeys(AccountInfo._fields, 0)
    values.update(
        login=7001, leverage=100, currency_digits=2, balance=10104.1, credit=0.0, equity=10200.35,
        margin=470.23, margin_free=9730.12, name="Trader", server="Demo", currency="USD", company="Broker",
    )  # fmt: skip
    return AccountInfo(**values)


def test_a_deal_maps_exactly_without_float_noise() -> None:
    deal = deal_from_terminal(closing_deal(), CLOCK, ALIASES, 2)
    assert deal.action == DealAction.SELL
    assert deal.entry == DealEntry.OUT
    assert deal.volume == Decimal("0.3")
    assert deal.volume_closed == Decimal("0.3")
    assert deal.price == Decimal("2351.17")
    assert (deal.profit, deal.commission, deal.swap, deal.fee) == (10410, -105, -70, 0)
    assert deal.symbol == "XAUUSD"
    assert deal.raw_symbol == "XAUUSD.m"
    assert deal.time == datetime(2025, 12, 31, 22, 0, tzinfo=UTC)


def test_a_position_and_the_account_map() -> None:
    record = TradePosition(
        ticket=3001, time=0, time_msc=SERVER_MSC, time_update=0, time_update_msc=SERVER_MSC + 1000, type=0,
        magic=0, identifier=3001, reason=0, volume=0.2, price_open=2340.5, sl=0.0, tp=0.0,
        price_current=2351.1, swap=-0.35, profit=212.0, symbol="XAUUSD.m", comment="", external_id="",
    )  # fmt: skip
    position = position_from_terminal(record, 7001, CLOCK, ALIASES, 2)
    assert position.side is PositionSide.BUY
    assert (position.volume, position.profit, position.swap) == (Decimal("0.2"), 21200, -35)
    info = account_from_terminal(account())
    assert (info.balance, info.equity, info.margin, info.margin_free) == (1010410, 1020035, 47023, 973012)


class TerminalStandIn:
    """Stands in for the Windows-only MetaTrader5 module: the same functions and record shapes."""

    def initialize(self, **_: Any) -> bool:
        return True

    def account_info(self) -> AccountInfo:
        return account()

    def history_deals_get(self, since: int, until: int) -> tuple[TradeDeal, ...]:
        deal = closing_deal()
        return (deal,) if since <= deal.time <= until else ()

    def positions_get(self) -> tuple[TradePosition, ...]:
        return ()

    def last_error(self) -> tuple[int, str]:
        return (1, "ok")

    def shutdown(self) -> None:
        return None


async def test_the_adapter_reads_one_login_and_refuses_changes() -> None:
    platform = Mt5TerminalPlatform(7001, "secret", "Demo", server_offset=timedelta(hours=2), aliases=ALIASES,
                                   module=TerminalStandIn())  # fmt: skip
    moment = datetime(2025, 12, 31, 22, 0, tzinfo=UTC)
    deals = await platform.fetch_deals(
        DealQuery(since=moment - timedelta(minutes=1), until=moment + timedelta(minutes=1), logins=[7001])
    )
    assert [(d.ticket, d.login) for d in deals] == [(5001, 7001)]
    assert await platform.fetch_positions(PositionQuery(logins=[7001])) == []
    with pytest.raises(TerminalReadOnlyError):
        await platform.fetch_deals(DealQuery(since=moment, until=moment + timedelta(1), logins=[7002]))
    with pytest.raises(TerminalReadOnlyError):
        await platform.change_leverage(7001, 200)

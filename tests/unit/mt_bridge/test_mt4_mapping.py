"""MT4 trade records (whole orders, volume in 1/100 lot) as Deal legs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from mt_bridge.mt4.mapping import deals_from_trade, in_leg_ticket, out_leg_ticket
from mt_bridge.records import DealAction, DealEntry
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import SymbolAliases

CLOCK = ServerClock(timedelta(hours=2))
ALIASES = SymbolAliases(aliases={"GOLD": "XAUUSD"})
ORDER = {
    "order": 81234, "login": 7001, "symbol": "GOLD", "cmd": 1, "volume": 35, "open_time": 1_767_225_600,
    "close_time": 1_767_229_200, "open_price": "2351.10", "close_price": "2341.35", "commission": "-2.45",
    "commission_agent": "-0.50", "storage": "-1.20", "profit": "341.25", "comment": "", "currency_digits": 2,
}  # fmt: skip


def test_a_closed_order_is_an_in_and_an_out_leg() -> None:
    opening, closing = deals_from_trade(ORDER, CLOCK, ALIASES)
    assert (opening.ticket, closing.ticket) == (in_leg_ticket(81234), out_leg_ticket(81234))
    assert (opening.action, opening.entry) == (DealAction.SELL, DealEntry.IN)
    assert (closing.action, closing.entry) == (DealAction.BUY, DealEntry.OUT)
    assert opening.volume == closing.volume == closing.volume_closed == Decimal("0.35")
    assert (opening.commission, opening.profit, opening.swap) == (-245, 0, 0)
    assert (closing.commission, closing.profit, closing.swap) == (0, 34125, -120)
    assert opening.position_id == closing.position_id == 81234
    assert opening.symbol == "XAUUSD"
    assert (closing.time - opening.time) == timedelta(hours=1)
    assert opening.time.utcoffset() == timedelta(0)
    assert opening.server_time_msc == 1_767_225_600_000


def test_open_balance_and_pending_records() -> None:
    [still_open] = deals_from_trade({**ORDER, "close_time": 0}, CLOCK, ALIASES)
    assert still_open.entry == DealEntry.IN
    [deposit] = deals_from_trade(
        {**ORDER, "cmd": 6, "symbol": "", "volume": 0, "profit": "500.00"}, CLOCK, ALIASES
    )
    assert (deposit.action, deposit.profit, deposit.commission) == (DealAction.BALANCE, 50000, 0)
    [credit] = deals_from_trade({**ORDER, "cmd": 7, "symbol": "", "profit": "-20"}, CLOCK, ALIASES)
    assert (credit.action, credit.profit) == (DealAction.CREDIT, -2000)
    assert deals_from_trade({**ORDER, "cmd": 2}, CLOCK, ALIASES) == []

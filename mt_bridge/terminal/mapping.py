"""The ``MetaTrader5`` package's named tuples (``TradeDeal``, ``TradePosition``, ``AccountInfo``)
as the bridge's records.

The package reports money as floats in the deposit currency already rounded by the terminal, so
each is read through its ``repr`` (the shortest string that round-trips) and rounded to the
currency's digits: that recovers the terminal's own value without float arithmetic. ``volume``
is in lots. ``time_msc`` is on the trade server's clock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mt_bridge.money import to_minor_units
from mt_bridge.records import AccountInfo, Deal, Position, PositionSide
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import SymbolAliases


def exact(value: Any) -> Decimal:
    """A terminal number as the decimal it was meant to be (never through float arithmetic)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def deal_from_terminal(record: Any, clock: ServerClock, aliases: SymbolAliases, currency_digits: int) -> Deal:
    """A ``TradeDeal`` named tuple as a :class:`Deal`."""

    def money(value: Any) -> int:
        return to_minor_units(exact(value), currency_digits)

    raw_symbol = str(record.symbol)
    volume = exact(record.volume)
    return Deal(
        ticket=int(record.ticket),
        login=0,
        order=int(record.order),
        position_id=int(record.position_id),
        action=int(record.type),
        entry=int(record.entry),
        symbol=aliases.normalise(raw_symbol) if raw_symbol else "",
        raw_symbol=raw_symbol,
        volume=volume,
        volume_closed=volume if int(record.entry) in (1, 3) else Decimal(0),
        price=exact(record.price),
        profit=money(record.profit),
        commission=money(record.commission),
        swap=money(record.swap),
        fee=money(record.fee),
        currency_digits=currency_digits,
        contract_size=Decimal(0),
        time=clock.utc_from_server_msc(int(record.time_msc)),
        server_time_msc=int(record.time_msc),
        comment=str(record.comment),
    )


def position_from_terminal(
    record: Any, login: int, clock: ServerClock, aliases: SymbolAliases, currency_digits: int
) -> Position:
    """A ``TradePosition`` named tuple as a :class:`Position`."""
    raw_symbol = str(record.symbol)
    return Position(
        ticket=int(record.ticket),
        login=login,
        symbol=aliases.normalise(raw_symbol),
        raw_symbol=raw_symbol,
        side=PositionSide(int(record.type)),
        volume=exact(record.volume),
        price_open=exact(record.price_open),
        price_current=exact(record.price_current),
        profit=to_minor_units(exact(record.profit), currency_digits),
        swap=to_minor_units(exact(record.swap), currency_digits),
        currency_digits=currency_digits,
        opened_at=clock.utc_from_server_msc(int(record.time_msc)),
        updated_at=clock.utc_from_server_msc(int(record.time_update_msc)),
        comment=str(record.comment),
    )


def account_from_terminal(record: Any) -> AccountInfo:
    """An ``AccountInfo`` named tuple as the bridge's :class:`AccountInfo`."""
    digits = int(record.currency_digits)

    def money(value: Any) -> int:
        return to_minor_units(exact(value), digits)

    return AccountInfo(
        login=int(record.login),
        group="",
        name=str(record.name),
        leverage=int(record.leverage),
        currency=str(record.currency),
        currency_digits=digits,
        balance=money(record.balance),
        credit=money(record.credit),
        equity=money(record.equity),
        margin=money(record.margin),
        margin_free=money(record.margin_free),
    )

"""MT4 trade records (whole orders, volume in 1/100 lot) as legs of the bridge's :class:`Deal`.

MT4 has no deals. A closed order becomes an IN leg at its open and an OUT leg at its close; an
open order is its IN leg only; a balance or credit record is a single money deal. Leg tickets are
derived from the order number so they are unique per server and stable across reads:
``2 * order`` for the IN leg (and for balance records), ``2 * order + 1`` for the OUT leg.

MT4 charges an order's ``commission`` when it opens, so it sits on the IN leg; ``profit`` and
``storage`` (swap) are realised at the close, on the OUT leg. ``commission_agent`` is paid to an
agent, not by the client, and is not part of the client's money.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mt_bridge.errors import ProtocolError
from mt_bridge.money import to_minor_units
from mt_bridge.records import AccountInfo, Deal, DealAction, DealEntry, Position, PositionSide
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import SymbolAliases

CMD_BUY = 0
CMD_SELL = 1
CMD_BALANCE = 6
CMD_CREDIT = 7
LOTS_PER_VOLUME_UNIT = Decimal("0.01")
"""MT4 counts volume in 1/100 of a lot."""


def in_leg_ticket(order: int) -> int:
    return order * 2


def out_leg_ticket(order: int) -> int:
    return order * 2 + 1


def _decimal(record: Mapping[str, Any], name: str) -> Decimal:
    value = record.get(name, 0)
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise ProtocolError(f"MT4 field {name} is not a number: {value!r}") from exc


def _int(record: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = record.get(name, default)
    if value is None:
        raise ProtocolError(f"MT4 record lacks {name}")
    return int(str(value))


def deals_from_trade(record: Mapping[str, Any], clock: ServerClock, aliases: SymbolAliases) -> list[Deal]:
    """The :class:`Deal` legs of one MT4 trade record; pending orders (cmd 2-5) give none."""
    cmd = _int(record, "cmd")
    order = _int(record, "order")
    digits = _int(record, "currency_digits", 2)
    raw_symbol = str(record.get("symbol", ""))
    open_seconds = _int(record, "open_time")
    close_seconds = _int(record, "close_time", 0)
    comment = str(record.get("comment", ""))

    def money(name: str) -> int:
        return to_minor_units(_decimal(record, name), digits)

    common: dict[str, Any] = {
        "login": _int(record, "login"),
        "order": order,
        "position_id": order,
        "symbol": aliases.normalise(raw_symbol) if raw_symbol else "",
        "raw_symbol": raw_symbol,
        "currency_digits": digits,
        "contract_size": _decimal(record, "contract_size"),
        "comment": comment,
        "swap": 0,
        "fee": 0,
    }
    if cmd in (CMD_BALANCE, CMD_CREDIT):
        return [
            Deal(
                ticket=in_leg_ticket(order),
                action=DealAction.BALANCE if cmd == CMD_BALANCE else DealAction.CREDIT,
                entry=DealEntry.IN,
                volume=Decimal(0),
                volume_closed=Decimal(0),
                price=Decimal(0),
                profit=money("profit"),
                commission=0,
                time=clock.utc_from_server_seconds(open_seconds),
                server_time_msc=open_seconds * 1000,
                **{**common, "position_id": 0},
            )
        ]
    if cmd not in (CMD_BUY, CMD_SELL):
        return []
    lots = Decimal(_int(record, "volume")) * LOTS_PER_VOLUME_UNIT
    opening = DealAction.BUY if cmd == CMD_BUY else DealAction.SELL
    closing = DealAction.SELL if cmd == CMD_BUY else DealAction.BUY
    legs = [
        Deal(
            ticket=in_leg_ticket(order),
            action=opening,
            entry=DealEntry.IN,
            volume=lots,
            volume_closed=Decimal(0),
            price=_decimal(record, "open_price"),
            profit=0,
            commission=money("commission"),
            time=clock.utc_from_server_seconds(open_seconds),
            server_time_msc=open_seconds * 1000,
            **common,
        )
    ]
    if close_seconds:
        legs.append(
            Deal(
                ticket=out_leg_ticket(order),
                action=closing,
                entry=DealEntry.OUT,
                volume=lots,
                volume_closed=lots,
                price=_decimal(record, "close_price"),
                profit=money("profit"),
                commission=0,
                time=clock.utc_from_server_seconds(close_seconds),
                server_time_msc=close_seconds * 1000,
                **{**common, "swap": money("storage")},
            )
        )
    return legs


def position_from_trade(record: Mapping[str, Any], clock: ServerClock, aliases: SymbolAliases) -> Position:
    """An open MT4 order as a :class:`Position`."""
    digits = _int(record, "currency_digits", 2)
    raw_symbol = str(record.get("symbol", ""))
    opened = clock.utc_from_server_seconds(_int(record, "open_time"))
    return Position(
        ticket=_int(record, "order"),
        login=_int(record, "login"),
        symbol=aliases.normalise(raw_symbol) if raw_symbol else "",
        raw_symbol=raw_symbol,
        side=PositionSide.BUY if _int(record, "cmd") == CMD_BUY else PositionSide.SELL,
        volume=Decimal(_int(record, "volume")) * LOTS_PER_VOLUME_UNIT,
        price_open=_decimal(record, "open_price"),
        price_current=_decimal(record, "close_price"),
        profit=to_minor_units(_decimal(record, "profit"), digits),
        swap=to_minor_units(_decimal(record, "storage"), digits),
        currency_digits=digits,
        opened_at=opened,
        updated_at=opened,
        comment=str(record.get("comment", "")),
    )


def account_from_user(record: Mapping[str, Any]) -> AccountInfo:
    """A gateway user record as :class:`AccountInfo`."""
    digits = _int(record, "currency_digits", 2)

    def money(name: str) -> int:
        return to_minor_units(_decimal(record, name), digits)

    return AccountInfo(
        login=_int(record, "login"),
        group=str(record.get("group", "")),
        name=str(record.get("name", "")),
        leverage=_int(record, "leverage"),
        currency=str(record.get("currency", "")),
        currency_digits=digits,
        balance=money("balance"),
        credit=money("credit"),
        equity=money("equity"),
        margin=money("margin"),
        margin_free=money("margin_free"),
    )

"""Trade execution on the emulated server: market deals, closes, reversals and swaps.

Hedging groups give each IN deal its own position, closed by OUT deals (partly or fully).
Netting groups keep one position per symbol: a deal against it is an OUT (partial or full),
or an INOUT when it is larger and so reverses the position.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from mt_bridge.emulator.config import GroupConfig
from mt_bridge.emulator.state import (
    DealRecord,
    PositionRecord,
    Refusal,
    TradeServer,
    ext_to_lots,
    lots_to_ext,
)
from mt_bridge.records import DealAction, DealEntry, PositionSide
from mt_bridge.retcodes import Retcode


def market_deal(
    server: TradeServer, login: int, symbol: str, side: PositionSide, lots: Decimal
) -> DealRecord:
    """Execute a market BUY or SELL of ``lots`` for ``login``; returns the deal it made.

    In a hedging group this always opens a position; in a netting group it adds to, reduces,
    closes or reverses the symbol's position.
    """
    user = server.user(login)
    group = server.group(user.group)
    if not server.market.has(symbol):
        raise Refusal(Retcode.ERR_PARAMS, f"unknown symbol {symbol}")
    if lots <= 0:
        raise Refusal(Retcode.ERR_PARAMS, "volume must be positive")
    existing = None
    if group.netting:
        existing = next(
            (p for p in server.positions.values() if p.login == login and p.symbol == symbol), None
        )
    if existing is None or existing.side == side:
        return _open(server, login, group, symbol, side, lots, existing)
    return _reduce(server, group, existing, side, lots)


def close_position(server: TradeServer, ticket: int, lots: Decimal | None = None) -> DealRecord:
    """Close ``lots`` of position ``ticket`` (all of it by default) with an OUT deal."""
    position = server.positions.get(ticket)
    if position is None:
        raise Refusal(Retcode.ERR_NOTFOUND, f"position {ticket} not found")
    volume = ext_to_lots(position.volume_ext) if lots is None else lots
    if volume <= 0 or lots_to_ext(volume) > position.volume_ext:
        raise Refusal(Retcode.ERR_PARAMS, "close volume must be positive and at most the position's")
    group = server.group_of(position.login)
    closing_side = PositionSide.SELL if position.side == PositionSide.BUY else PositionSide.BUY
    return _reduce(server, group, position, closing_side, volume)


def rollover(server: TradeServer) -> None:
    """Charge or pay one day's swap on every open position (booked in the position's storage)."""
    for position in server.positions.values():
        group = server.group_of(position.login)
        symbol = server.market.symbol(position.symbol)
        per_lot = symbol.swap_long if position.side == PositionSide.BUY else symbol.swap_short
        rate = server.market.rate(symbol.profit_currency, group.currency)
        swap = server.round_money(per_lot * ext_to_lots(position.volume_ext) * rate, group.currency_digits)
        position.storage += swap
        position.time_update_msc = server.now_msc()


def _price_for(server: TradeServer, symbol: str, side: PositionSide) -> Decimal:
    quote = server.market.quote(symbol)
    return quote.ask if side == PositionSide.BUY else quote.bid


def _commission(server: TradeServer, group: GroupConfig, lots: Decimal) -> Decimal:
    return -server.round_money(group.commission_per_lot * lots, group.currency_digits)


def _open(
    server: TradeServer,
    login: int,
    group: GroupConfig,
    symbol: str,
    side: PositionSide,
    lots: Decimal,
    existing: PositionRecord | None,
) -> DealRecord:
    config = server.market.symbol(symbol)
    price = _price_for(server, symbol, side)
    now = server.now_msc()
    order = server.next_ticket()
    if existing is None:
        position = PositionRecord(
            ticket=order,
            login=login,
            symbol=symbol,
            side=side,
            volume_ext=lots_to_ext(lots),
            price_open=price,
            time_create_msc=now,
            time_update_msc=now,
            digits=config.digits,
            digits_currency=group.currency_digits,
            contract_size=config.contract_size,
        )
        server.positions[position.ticket] = position
    else:
        position = existing
        old_lots = ext_to_lots(position.volume_ext)
        average = (position.price_open * old_lots + price * lots) / (old_lots + lots)
        position.price_open = average.quantize(server.price_step(symbol), rounding=ROUND_HALF_EVEN)
        position.volume_ext += lots_to_ext(lots)
        position.time_update_msc = now
    deal = _deal(server, position, group, side, DealEntry.IN, lots, price, order=order, time_msc=now)
    deal.commission = _commission(server, group, lots)
    _book(server, deal)
    return deal


def _reduce(
    server: TradeServer, group: GroupConfig, position: PositionRecord, side: PositionSide, lots: Decimal
) -> DealRecord:
    price = _price_for(server, position.symbol, side)
    held = ext_to_lots(position.volume_ext)
    closed = min(lots, held)
    now = server.now_msc()
    entry = DealEntry.OUT if lots <= held else DealEntry.INOUT
    deal = _deal(server, position, group, side, entry, lots, price, order=server.next_ticket(), time_msc=now)
    deal.volume_closed_ext = lots_to_ext(closed)
    deal.price_position = position.price_open
    deal.profit = server.trade_profit(position, price, closed, group)
    share = server.round_money(position.storage * closed / held, group.currency_digits)
    deal.storage = share
    deal.commission = _commission(server, group, lots)
    position.storage -= share
    position.time_update_msc = now
    if lots < held:
        position.volume_ext -= lots_to_ext(lots)
    elif lots == held:
        del server.positions[position.ticket]
    else:
        position.side = side
        position.volume_ext = lots_to_ext(lots - held)
        position.price_open = price
        position.storage = Decimal(0)
    _book(server, deal)
    return deal


def _deal(
    server: TradeServer,
    position: PositionRecord,
    group: GroupConfig,
    side: PositionSide,
    entry: DealEntry,
    lots: Decimal,
    price: Decimal,
    *,
    order: int,
    time_msc: int,
) -> DealRecord:
    return DealRecord(
        ticket=server.next_ticket(),
        login=position.login,
        action=DealAction.BUY if side == PositionSide.BUY else DealAction.SELL,
        entry=entry,
        time_msc=time_msc,
        order=order,
        position_id=position.ticket,
        symbol=position.symbol,
        price=price,
        volume_ext=lots_to_ext(lots),
        digits=position.digits,
        digits_currency=group.currency_digits,
        contract_size=position.contract_size,
    )


def _book(server: TradeServer, deal: DealRecord) -> None:
    server.record_deal(deal)
    server.user(deal.login).balance += deal.money

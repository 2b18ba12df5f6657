"""A window of deals read quickly: the shape every MT5 server sends, decoded straight from bytes.

A backfill brings deals by the hundred thousand, and reading each through the general,
case- and type-tolerant field readers of :mod:`mt_bridge.mt5.mapping` cost more than everything
else the sync does with it. So a ``deal/get_batch`` answer is first decoded by msgspec into
:class:`PlainDeal` (the documented field names, every value a JSON string, the fields the
:class:`~mt_bridge.records.Deal` needs and no others), and its numbers are read by integer
arithmetic on their digits. An answer in any other shape (another letter case, a bare number, a
missing field, an exponent, digits past the currency's) is read again the general way, whole.
Both ways give the same exact values; floats never appear in either.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from mt_bridge.errors import ProtocolError
from mt_bridge.mt5.mapping import VOLUME_EXT_PER_LOT, deal_from_record
from mt_bridge.mt5.numbers import parse_json
from mt_bridge.records import Deal
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import SymbolAliases


class PlainDeal(msgspec.Struct):
    """The ``IMTDeal`` fields a :class:`Deal` is made of, as the Web API sends them."""

    Deal: str
    Login: str
    Order: str
    PositionID: str
    Action: str
    Entry: str
    Symbol: str
    TimeMsc: str
    Price: str
    VolumeExt: str
    VolumeClosedExt: str
    Profit: str
    Commission: str
    Storage: str
    Fee: str
    DigitsCurrency: str
    ContractSize: str
    Comment: str


_PLAIN_DEALS = msgspec.json.Decoder(list[PlainDeal])


class _NotPlain(Exception):
    """Raised when a value is not in the plain form read here; the general reading will take it."""


def deals_from_answer(raw: bytes, clock: ServerClock, aliases: SymbolAliases) -> list[Deal]:
    """The deals of a JSON array of ``IMTDeal`` records, quickly when they are plain."""
    try:
        return [_deal_from_plain(plain, clock, aliases) for plain in _PLAIN_DEALS.decode(raw)]
    except (msgspec.DecodeError, _NotPlain, ValueError, InvalidOperation):
        pass
    records = parse_json(raw)
    if not isinstance(records, list):
        raise ProtocolError(f"deals should come as a list, got {type(records).__name__}")
    return [deal_from_record(record, clock, aliases) for record in records]


def _decimal(text: str) -> Decimal:
    number = Decimal(text)
    if not number.is_finite():
        raise _NotPlain
    return number


def _minor_units(text: str, currency_digits: int) -> int:
    """``"-152.3"`` at 2 digits is -15230, by integer arithmetic on the digits themselves.

    Only a sign, ASCII digits and at most ``currency_digits`` decimals are taken here; digits
    past them (a double's noise) are rounded by :func:`mt_bridge.mt5.mapping.money` instead.
    """
    negative = text.startswith("-")
    whole, dot, fraction = (text[1:] if negative else text).partition(".")
    plain = whole.isascii() and whole.isdigit() and (not dot or (fraction.isascii() and fraction.isdigit()))
    if not plain or len(fraction) > currency_digits:
        raise _NotPlain
    amount = int(whole + fraction.ljust(currency_digits, "0"))
    return -amount if negative else amount


def _deal_from_plain(plain: PlainDeal, clock: ServerClock, aliases: SymbolAliases) -> Deal:
    digits = int(plain.DigitsCurrency)
    time_msc = int(plain.TimeMsc)
    if time_msc < 0 or digits < 0:
        raise _NotPlain
    raw_symbol = plain.Symbol
    return Deal(
        ticket=int(plain.Deal),
        login=int(plain.Login),
        order=int(plain.Order),
        position_id=int(plain.PositionID),
        action=int(plain.Action),
        entry=int(plain.Entry),
        symbol=aliases.normalise(raw_symbol) if raw_symbol else "",
        raw_symbol=raw_symbol,
        volume=_decimal(plain.VolumeExt) / VOLUME_EXT_PER_LOT,
        volume_closed=_decimal(plain.VolumeClosedExt) / VOLUME_EXT_PER_LOT,
        price=_decimal(plain.Price),
        profit=_minor_units(plain.Profit, digits),
        commission=_minor_units(plain.Commission, digits),
        swap=_minor_units(plain.Storage, digits),
        fee=_minor_units(plain.Fee, digits),
        currency_digits=digits,
        contract_size=_decimal(plain.ContractSize),
        time=clock.utc_from_server_msc(time_msc),
        server_time_msc=time_msc,
        comment=plain.Comment,
    )

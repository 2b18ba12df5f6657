"""Turn Web API records (string-valued JSON objects) into the bridge's normalised records."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mt_bridge.errors import ProtocolError
from mt_bridge.money import to_minor_units
from mt_bridge.mt5.numbers import decimal_field, find_field, int_field, str_field
from mt_bridge.records import AccountInfo, Deal, Position, PositionSide
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import SymbolAliases

VOLUME_EXT_PER_LOT = Decimal(100_000_000)
"""``VolumeExt`` counts 1/100,000,000 of a lot."""
VOLUME_PER_LOT = Decimal(10_000)
"""``Volume`` counts 1/10,000 of a lot."""
DEFAULT_CURRENCY_DIGITS = 2


def lots(record: Mapping[str, Any], ext_name: str, plain_name: str) -> Decimal:
    """Lots from the extended-precision field when the server sends it, else the older one."""
    extended = find_field(record, ext_name)
    if extended not in (None, ""):
        return decimal_field(record, ext_name) / VOLUME_EXT_PER_LOT
    return decimal_field(record, plain_name, Decimal(0)) / VOLUME_PER_LOT


def money(record: Mapping[str, Any], name: str, currency_digits: int) -> int:
    """The money field ``name`` in minor units of the deposit currency (absent means zero)."""
    return to_minor_units(decimal_field(record, name, Decimal(0)), currency_digits)


def deal_from_record(
    record: Mapping[str, Any],
    clock: ServerClock,
    aliases: SymbolAliases,
    currency_digits: int = DEFAULT_CURRENCY_DIGITS,
) -> Deal:
    """A :class:`Deal` from ``IMTDeal`` JSON; ``currency_digits`` is used when the deal omits them."""
    if not isinstance(record, Mapping):
        raise ProtocolError(f"a deal should be an object, got {type(record).__name__}")
    digits = int_field(record, "DigitsCurrency", currency_digits)
    time_msc = int_field(record, "TimeMsc", -1)
    if time_msc < 0:
        time_msc = int_field(record, "Time") * 1000
    raw_symbol = str_field(record, "Symbol")
    return Deal(
        ticket=int_field(record, "Deal"),
        login=int_field(record, "Login"),
        order=int_field(record, "Order", 0),
        position_id=int_field(record, "PositionID", 0),
        action=int_field(record, "Action"),
        entry=int_field(record, "Entry", 0),
        symbol=aliases.normalise(raw_symbol) if raw_symbol else "",
        raw_symbol=raw_symbol,
        volume=lots(record, "VolumeExt", "Volume"),
        volume_closed=lots(record, "VolumeClosedExt", "VolumeClosed"),
        price=decimal_field(record, "Price", Decimal(0)),
        profit=money(record, "Profit", digits),
        commission=money(record, "Commission", digits),
        swap=money(record, "Storage", digits),
        fee=money(record, "Fee", digits),
        currency_digits=digits,
        contract_size=decimal_field(record, "ContractSize", Decimal(0)),
        time=clock.utc_from_server_msc(time_msc),
        server_time_msc=time_msc,
        comment=str_field(record, "Comment"),
    )


def position_from_record(
    record: Mapping[str, Any],
    clock: ServerClock,
    aliases: SymbolAliases,
    currency_digits: int = DEFAULT_CURRENCY_DIGITS,
) -> Position:
    """A :class:`Position` from ``IMTPosition`` JSON."""
    if not isinstance(record, Mapping):
        raise ProtocolError(f"a position should be an object, got {type(record).__name__}")
    digits = int_field(record, "DigitsCurrency", currency_digits)
    created_msc = int_field(record, "TimeCreateMsc", -1)
    if created_msc < 0:
        created_msc = int_field(record, "TimeCreate", 0) * 1000
    updated_msc = int_field(record, "TimeUpdateMsc", -1)
    if updated_msc < 0:
        updated_msc = int_field(record, "TimeUpdate", created_msc // 1000) * 1000
    raw_symbol = str_field(record, "Symbol")
    try:
        side = PositionSide(int_field(record, "Action"))
    except ValueError as exc:
        raise ProtocolError(
            f"position Action should be 0 or 1, got {find_field(record, 'Action')!r}"
        ) from exc
    return Position(
        ticket=int_field(record, "Position"),
        login=int_field(record, "Login"),
        symbol=aliases.normalise(raw_symbol),
        raw_symbol=raw_symbol,
        side=side,
        volume=lots(record, "VolumeExt", "Volume"),
        price_open=decimal_field(record, "PriceOpen"),
        price_current=decimal_field(record, "PriceCurrent", Decimal(0)),
        profit=money(record, "Profit", digits),
        swap=money(record, "Storage", digits),
        currency_digits=digits,
        opened_at=clock.utc_from_server_msc(created_msc),
        updated_at=clock.utc_from_server_msc(updated_msc),
        comment=str_field(record, "Comment"),
    )


def account_from_records(
    user: Mapping[str, Any], account: Mapping[str, Any] | None, currency: str, currency_digits: int
) -> AccountInfo:
    """An :class:`AccountInfo` from ``IMTUser`` JSON and, when known, ``IMTAccount`` JSON.

    Without an account record (a just-created user) equity is balance plus credit and no
    margin is in use.
    """
    digits = int_field(account, "CurrencyDigits", currency_digits) if account else currency_digits
    balance = money(user, "Balance", digits)
    credit = money(user, "Credit", digits)
    if account:
        balance = money(account, "Balance", digits) if find_field(account, "Balance") is not None else balance
        credit = money(account, "Credit", digits) if find_field(account, "Credit") is not None else credit
        equity = money(account, "Equity", digits)
        margin = money(account, "Margin", digits)
        margin_free = money(account, "MarginFree", digits)
    else:
        equity = balance + credit
        margin = 0
        margin_free = equity
    return AccountInfo(
        login=int_field(user, "Login"),
        group=str_field(user, "Group"),
        name=str_field(user, "Name"),
        leverage=int_field(user, "Leverage"),
        currency=currency,
        currency_digits=digits,
        balance=balance,
        credit=credit,
        equity=equity,
        margin=margin,
        margin_free=margin_free,
    )

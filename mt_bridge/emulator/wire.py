"""The emulator's side of the wire format: every number inside an answer goes out as a string.

A deal's JSON is made once, when the deal is recorded or edited, and kept as bytes on the deal
(:func:`deal_wire`): a real MT5 server answers a 10,000-deal ``get_batch`` from native memory in a
few milliseconds, and an emulator that re-encodes every deal on every read would make the client
under test look slower than it is. An answer splices those bytes in as :class:`msgspec.Raw`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from mt_bridge.emulator.config import GroupConfig
    from mt_bridge.emulator.state import AccountState, DealRecord, PositionRecord, User

_ENCODER = msgspec.json.Encoder()


def stringify(value: Any) -> Any:
    """``value`` with every number, at any depth, turned into its exact decimal string."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {key: stringify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [stringify(item) for item in value]
    return value


def encode(payload: dict[str, Any]) -> bytes:
    """The JSON body of an answer, UTF-8, with every number as a string.

    :class:`msgspec.Raw` items (a deal's ready bytes) pass through as they are.
    """
    return _ENCODER.encode(stringify(payload))


def deal_wire(deal: DealRecord) -> msgspec.Raw:
    """The deal's ``IMTDeal`` JSON, encoded once and kept until the deal changes."""
    if deal.wire is None:
        deal.wire = msgspec.Raw(_ENCODER.encode(stringify(deal_json(deal))))
    return deal.wire


def user_json(user: User, group: GroupConfig) -> dict[str, Any]:
    """``IMTUser`` as the Web API shows it (passwords never leave the server)."""
    return {
        "Login": user.login,
        "Group": user.group,
        "CertSerialNumber": 0,
        "Rights": user.rights,
        "Registration": user.registration_msc // 1000,
        "LastAccess": user.registration_msc // 1000,
        "Name": user.name,
        "EMail": user.email,
        "Leverage": user.leverage,
        "Balance": user.balance,
        "Credit": user.credit,
        "CurrencyDigits": group.currency_digits,
    }


def account_json(state: AccountState) -> dict[str, Any]:
    """``IMTAccount``: the account's money now."""
    level = (state.equity / state.margin * 100).quantize(Decimal("0.01")) if state.margin else Decimal(0)
    return {
        "Login": state.login,
        "CurrencyDigits": state.currency_digits,
        "Balance": state.balance,
        "Credit": state.credit,
        "Margin": state.margin,
        "MarginFree": state.margin_free,
        "MarginLevel": level,
        "MarginLeverage": state.margin_leverage,
        "Profit": state.floating,
        "Storage": state.storage,
        "Floating": state.floating + state.storage,
        "Equity": state.equity,
    }


def deal_json(deal: DealRecord) -> dict[str, Any]:
    """``IMTDeal`` with both volume fields, times in server seconds and milliseconds."""
    return {
        "Deal": deal.ticket,
        "ExternalID": "",
        "Login": deal.login,
        "Dealer": 0,
        "Order": deal.order,
        "Action": deal.action,
        "Entry": deal.entry,
        "Reason": 0,
        "Digits": deal.digits,
        "DigitsCurrency": deal.digits_currency,
        "ContractSize": deal.contract_size,
        "Time": deal.time_msc // 1000,
        "TimeMsc": deal.time_msc,
        "Symbol": deal.symbol,
        "Price": deal.price,
        "Volume": deal.volume_ext // 10_000,
        "VolumeExt": deal.volume_ext,
        "VolumeClosed": deal.volume_closed_ext // 10_000,
        "VolumeClosedExt": deal.volume_closed_ext,
        "Profit": deal.profit,
        "Storage": deal.storage,
        "Commission": deal.commission,
        "Fee": deal.fee,
        "RateProfit": 1,
        "RateMargin": 1,
        "ExpertID": 0,
        "PositionID": deal.position_id,
        "Comment": deal.comment,
        "PricePosition": deal.price_position,
        "PriceSL": 0,
        "PriceTP": 0,
        "Flags": 0,
    }


def position_json(position: PositionRecord, profit: Decimal, price_current: Decimal) -> dict[str, Any]:
    """``IMTPosition`` with its current price and floating profit."""
    return {
        "Position": position.ticket,
        "ExternalID": "",
        "Login": position.login,
        "Dealer": 0,
        "Symbol": position.symbol,
        "Action": int(position.side),
        "Digits": position.digits,
        "DigitsCurrency": position.digits_currency,
        "Reason": 0,
        "ContractSize": position.contract_size,
        "TimeCreate": position.time_create_msc // 1000,
        "TimeUpdate": position.time_update_msc // 1000,
        "TimeCreateMsc": position.time_create_msc,
        "TimeUpdateMsc": position.time_update_msc,
        "PriceOpen": position.price_open,
        "PriceCurrent": price_current,
        "PriceSL": 0,
        "PriceTP": 0,
        "Volume": position.volume_ext // 10_000,
        "VolumeExt": position.volume_ext,
        "Profit": profit,
        "Storage": position.storage,
        "RateProfit": 1,
        "RateMargin": 1,
        "ExpertID": 0,
        "Comment": position.comment,
    }


def group_json(group: GroupConfig) -> dict[str, Any]:
    """``IMTConGroup``: the fields the bridge reads, plus margin mode."""
    return {
        "Group": group.name,
        "Currency": group.currency,
        "CurrencyDigits": group.currency_digits,
        "MarginMode": 0 if group.netting else 2,
        "MarginFreeMode": 1,
        "LimitPositions": 0,
        "LeverageMin": group.leverage_min,
        "LeverageMax": group.leverage_max,
        "CommissionPerLot": group.commission_per_lot,
    }

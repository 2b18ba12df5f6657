"""Normalised records that every platform adapter returns, whatever the platform sends.

Lots and prices are ``Decimal``; money is an ``int`` of minor units of the account's deposit
currency (``currency_digits`` says how many); times are timezone-aware UTC; symbols are canonical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum


class DealAction(IntEnum):
    """What a deal is (``IMTDeal::EnDealAction``); trades are BUY and SELL, the rest move money."""

    BUY = 0
    SELL = 1
    BALANCE = 2
    CREDIT = 3
    CHARGE = 4
    CORRECTION = 5
    BONUS = 6
    COMMISSION = 7
    AGENT_DAILY = 10
    AGENT_MONTHLY = 11
    BUY_CANCELED = 13
    SELL_CANCELED = 14
    AGENT = 18


class DealEntry(IntEnum):
    """How a trade deal changes its position (``IMTDeal::EnDealEntry``)."""

    IN = 0
    OUT = 1
    INOUT = 2
    OUT_BY = 3


class BalanceOperationType(IntEnum):
    """The kinds of balance operation a manager may post; the values are the deal actions."""

    BALANCE = 2
    CREDIT = 3
    CHARGE = 4
    CORRECTION = 5
    BONUS = 6


class PasswordKind(StrEnum):
    """Which of an account's passwords to change."""

    MAIN = "main"
    INVESTOR = "investor"
    API = "api"


class PositionSide(IntEnum):
    """The direction of an open position."""

    BUY = 0
    SELL = 1


@dataclass(frozen=True, slots=True)
class Deal:
    """One deal: a trade leg or a money movement on a trading account."""

    ticket: int
    login: int
    order: int
    position_id: int
    action: int
    entry: int
    symbol: str
    raw_symbol: str
    volume: Decimal
    volume_closed: Decimal
    price: Decimal
    profit: int
    commission: int
    swap: int
    fee: int
    currency_digits: int
    contract_size: Decimal
    time: datetime
    server_time_msc: int
    comment: str

    @property
    def is_trade(self) -> bool:
        """True for BUY and SELL deals, the ones that open, close or reverse positions."""
        return self.action in (DealAction.BUY, DealAction.SELL)

    @property
    def is_balance_operation(self) -> bool:
        """True for balance, credit, charge, correction and bonus deals."""
        return self.action in {kind.value for kind in BalanceOperationType}


@dataclass(frozen=True, slots=True)
class Position:
    """One open position as the platform reports it now."""

    ticket: int
    login: int
    symbol: str
    raw_symbol: str
    side: PositionSide
    volume: Decimal
    price_open: Decimal
    price_current: Decimal
    profit: int
    swap: int
    currency_digits: int
    opened_at: datetime
    updated_at: datetime
    comment: str


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account's settings and money as the platform reports them now."""

    login: int
    group: str
    name: str
    leverage: int
    currency: str
    currency_digits: int
    balance: int
    credit: int
    equity: int
    margin: int
    margin_free: int


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What it takes to open an account; ``login`` 0 lets the server choose one."""

    group: str
    name: str
    leverage: int
    main_password: str
    investor_password: str
    login: int = 0
    email: str = ""


@dataclass(frozen=True, slots=True)
class BalanceOperation:
    """A balance operation to post; a negative amount takes money off the account."""

    login: int
    kind: BalanceOperationType
    amount: int
    currency_digits: int
    comment: str
    check_margin: bool = True

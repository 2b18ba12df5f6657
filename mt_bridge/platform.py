"""The adapter protocol that every trading platform (MT5 Web API, MT4 gateway, ...) implements.

Callers above ``mt_bridge`` depend on this protocol only, never on an adapter's module, so the
wiring point picks the adapter per server and tests can run the real one against the emulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from mt_bridge.records import AccountInfo, BalanceOperation, Deal, NewAccount, PasswordKind, Position


@dataclass(frozen=True, slots=True)
class DealQuery:
    """Which deals to fetch: either ``logins`` or a ``group`` mask, in ``[since, until)`` UTC."""

    since: datetime
    until: datetime
    logins: Sequence[int] = ()
    group: str = ""

    def __post_init__(self) -> None:
        if bool(self.logins) == bool(self.group):
            raise ValueError("a deal query names either logins or a group mask, not both or neither")
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("deal query times must be timezone-aware UTC")
        if self.until <= self.since:
            raise ValueError("a deal query's window must end after it starts")


@dataclass(frozen=True, slots=True)
class PositionQuery:
    """Which open positions to fetch: either ``logins`` or a ``group`` mask."""

    logins: Sequence[int] = ()
    group: str = ""

    def __post_init__(self) -> None:
        if bool(self.logins) == bool(self.group):
            raise ValueError("a position query names either logins or a group mask, not both or neither")


@runtime_checkable
class TradingPlatform(Protocol):
    """What BrokerDesk can ask of a trading server (DESIGN.md section 5).

    Errors are :class:`mt_bridge.errors.MtBridgeError` subclasses: a
    :class:`~mt_bridge.errors.PlatformRejectedError` leaf when the server refused (nothing applied),
    :class:`~mt_bridge.errors.OutcomeUnknownError` when a change may or may not have been applied.
    """

    async def create_account(self, account: NewAccount) -> AccountInfo:
        """Open an account in a group with leverage, name and passwords; returns it as created."""
        ...

    async def get_account(self, login: int) -> AccountInfo:
        """The account's settings and money now."""
        ...

    async def change_leverage(self, login: int, leverage: int) -> AccountInfo:
        """Set the account's leverage; returns the account as changed."""
        ...

    async def change_group(self, login: int, group: str) -> AccountInfo:
        """Move the account to another group; returns the account as changed."""
        ...

    async def change_password(self, login: int, kind: PasswordKind, password: str) -> None:
        """Replace the account's main, investor or API password."""
        ...

    async def post_balance_operation(self, operation: BalanceOperation) -> int:
        """Post a balance, credit, charge, correction or bonus; returns the deal ticket."""
        ...

    async def fetch_deals(self, query: DealQuery) -> list[Deal]:
        """Deals of the query's logins or group whose time lies in its window."""
        ...

    async def fetch_positions(self, query: PositionQuery) -> list[Position]:
        """Open positions of the query's logins or group."""
        ...

    async def ping(self) -> None:
        """Prove the server answers (and keep the session alive)."""
        ...

    async def close(self) -> None:
        """End the session and release the connection."""
        ...

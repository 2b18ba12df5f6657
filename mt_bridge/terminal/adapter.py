"""Read-only :class:`TradingPlatform` over a local MetaTrader5 terminal, for one trader login.

The ``MetaTrader5`` package exists for Windows only (the ``mt5-terminal`` extra) and is imported
when an adapter is made, never at module import. It can't open accounts or move money: those
operations raise :class:`TerminalReadOnlyError`. Its calls block, so they run on a thread.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from mt_bridge.errors import MtBridgeError, PlatformUnavailableError
from mt_bridge.platform import DealQuery, PositionQuery
from mt_bridge.records import AccountInfo, BalanceOperation, Deal, NewAccount, PasswordKind, Position
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import NO_ALIASES, SymbolAliases
from mt_bridge.terminal.mapping import account_from_terminal, deal_from_terminal, position_from_terminal


class TerminalReadOnlyError(MtBridgeError):
    """Raised when the terminal adapter is asked to change something: it only reads one login."""


class Mt5TerminalPlatform:
    """One trader login through the MetaTrader5 terminal package; reads only."""

    def __init__(
        self,
        login: int,
        password: str,
        server: str,
        *,
        server_offset: timedelta = timedelta(0),
        aliases: SymbolAliases = NO_ALIASES,
        module: Any = None,
    ) -> None:
        self._module = module
        self._login, self._password, self._server = login, password, server
        self._clock = ServerClock(server_offset)
        self._aliases = aliases
        self._digits: int | None = None

    def _mt5(self) -> Any:
        if self._module is None:
            try:
                self._module = importlib.import_module("MetaTrader5")
            except ImportError as exc:
                raise PlatformUnavailableError(
                    "the MetaTrader5 package is not installed"
                    " (Windows only: pip install brokerdesk[mt5-terminal])"
                ) from exc
        return self._module

    async def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        mt5 = self._mt5()
        if not mt5.initialize(login=self._login, password=self._password, server=self._server):
            raise PlatformUnavailableError(f"terminal initialize failed: {mt5.last_error()}")
        result = await asyncio.to_thread(getattr(mt5, name), *args, **kwargs)
        if result is None:
            raise PlatformUnavailableError(f"terminal {name} failed: {mt5.last_error()}")
        return result

    async def _currency_digits(self) -> int:
        if self._digits is None:
            self._digits = (await self.get_account(self._login)).currency_digits
        return self._digits

    async def get_account(self, login: int) -> AccountInfo:
        self._only_mine(login)
        return account_from_terminal(await self._run("account_info"))

    async def fetch_deals(self, query: DealQuery) -> list[Deal]:
        if query.group or list(query.logins) != [self._login]:
            raise TerminalReadOnlyError("the terminal sees one login only")
        digits = await self._currency_digits()
        since = self._clock.server_seconds_from_utc(query.since)
        until = self._clock.server_seconds_from_utc(query.until) + 1
        records = await self._run("history_deals_get", since, until)
        deals = [deal_from_terminal(r, self._clock, self._aliases, digits) for r in records]
        return [replace(d, login=self._login) for d in deals if query.since <= d.time < query.until]

    async def fetch_positions(self, query: PositionQuery) -> list[Position]:
        if query.group or list(query.logins) != [self._login]:
            raise TerminalReadOnlyError("the terminal sees one login only")
        digits = await self._currency_digits()
        records = await self._run("positions_get")
        return [position_from_terminal(r, self._login, self._clock, self._aliases, digits) for r in records]

    async def ping(self) -> None:
        await self._run("terminal_info")

    async def close(self) -> None:
        if self._module is not None:
            self._module.shutdown()

    async def create_account(self, account: NewAccount) -> AccountInfo:
        raise TerminalReadOnlyError("the terminal can't open accounts")

    async def change_leverage(self, login: int, leverage: int) -> AccountInfo:
        raise TerminalReadOnlyError("the terminal can't change leverage")

    async def change_group(self, login: int, group: str) -> AccountInfo:
        raise TerminalReadOnlyError("the terminal can't change groups")

    async def change_password(self, login: int, kind: PasswordKind, password: str) -> None:
        raise TerminalReadOnlyError("the terminal can't change passwords")

    async def post_balance_operation(self, operation: BalanceOperation) -> int:
        raise TerminalReadOnlyError("the terminal can't move money")

    def _only_mine(self, login: int) -> None:
        if login != self._login:
            raise TerminalReadOnlyError("the terminal sees one login only")

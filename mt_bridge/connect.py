"""Which adapter talks to which server: one long-lived platform client per server id.

Services ask a :class:`PlatformDirectory` for ``platform(server_id)`` and never build clients
themselves, so the worker keeps one keep-alive session per server and tests can point the real
clients at the emulator (with its self-signed certificate) through the same door.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from core.db import Database
from core.secrets_box import SecretsBox
from mt_bridge.errors import MtBridgeError
from mt_bridge.models import Platform, TradingServer
from mt_bridge.platform import TradingPlatform
from mt_bridge.symbols import SymbolAliases


class UnknownServerError(MtBridgeError):
    """Raised when a server id names no configured, enabled trading server."""


@dataclass(frozen=True)
class ServerAccess:
    """Everything an adapter needs to reach one server, with the password opened."""

    server_id: int
    platform: Platform
    address: str
    manager_login: int
    manager_password: str
    time_offset: timedelta
    aliases: SymbolAliases


PlatformBuilder = Callable[[ServerAccess], TradingPlatform]


def manager_password_context(server_id: int) -> str:
    """The associated data a server's sealed password is bound to."""
    return f"mt_server:{server_id}:manager_password"


def default_builder(verify: ssl.SSLContext | bool = True) -> PlatformBuilder:
    """Build the real adapter for a server's platform (imports stay lazy: MT4 and the terminal
    adapter are only loaded where a server uses them)."""

    def build(access: ServerAccess) -> TradingPlatform:
        if access.platform is Platform.MT5:
            from mt_bridge.mt5.client import Mt5WebApiPlatform
            from mt_bridge.mt5.settings import Mt5ServerSettings

            return Mt5WebApiPlatform(
                Mt5ServerSettings(
                    base_url=access.address,
                    manager_login=access.manager_login,
                    manager_password=access.manager_password,
                    server_offset=access.time_offset,
                    symbol_aliases=access.aliases,
                    verify=verify,
                )
            )
        if access.platform is Platform.MT4:
            from mt_bridge.mt4.client import Mt4GatewayPlatform, Mt4GatewaySettings

            mt4: TradingPlatform = Mt4GatewayPlatform(
                Mt4GatewaySettings(
                    base_url=access.address,
                    manager_login=access.manager_login,
                    manager_password=access.manager_password,
                    server_offset=access.time_offset,
                    symbol_aliases=access.aliases,
                    verify=verify,
                )
            )
            return mt4
        raise UnknownServerError(f"no server-side adapter for platform {access.platform}")

    return build


async def load_aliases(db: Database) -> SymbolAliases:
    """The symbol alias table from the product catalogue."""
    from mt_bridge.products import alias_table

    return await alias_table(db)


class PlatformDirectory:
    """Hands out one platform client per server, built on first use and kept open."""

    def __init__(self, db: Database, box: SecretsBox, builder: PlatformBuilder | None = None) -> None:
        self._db = db
        self._box = box
        self._builder = builder or default_builder()
        self._platforms: dict[int, TradingPlatform] = {}
        self._lock = asyncio.Lock()

    async def access(self, server_id: int) -> ServerAccess:
        async with self._db.session() as session:
            server = await session.scalar(select(TradingServer).where(TradingServer.id == server_id))
        if server is None or not server.enabled:
            raise UnknownServerError(f"no enabled trading server {server_id}")
        return ServerAccess(
            server_id=server.id,
            platform=Platform(server.platform),
            address=server.address,
            manager_login=server.manager_login,
            manager_password=self._box.open(
                server.manager_password_sealed, manager_password_context(server.id)
            ),
            time_offset=timedelta(minutes=server.time_offset_minutes),
            aliases=await load_aliases(self._db),
        )

    async def platform(self, server_id: int) -> TradingPlatform:
        async with self._lock:
            if server_id not in self._platforms:
                self._platforms[server_id] = self._builder(await self.access(server_id))
            return self._platforms[server_id]

    async def forget(self, server_id: int) -> None:
        """Close and drop a server's client (its settings changed)."""
        async with self._lock:
            platform = self._platforms.pop(server_id, None)
        if platform is not None:
            await platform.close()

    async def close(self) -> None:
        async with self._lock:
            platforms, self._platforms = list(self._platforms.values()), {}
        for platform in platforms:
            await platform.close()


PlatformSource = Callable[[int], Awaitable[TradingPlatform]]
"""``platform(server_id)``: what the outbox and sync services take, usually a directory's method."""

"""A trading product for tests that need accounts but no platform: one MT5 server, a group and
account types, written straight to the tables (the bridge is not started)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from mt_bridge.models import AccountType, Platform, TradingGroup, TradingServer


@dataclass(frozen=True)
class Product:
    server: TradingServer
    group: TradingGroup
    account_types: tuple[AccountType, ...]

    @property
    def account_type(self) -> AccountType:
        return self.account_types[0]


async def add_product(
    session: AsyncSession,
    *,
    server_name: str = "mt5-live",
    group_name: str = "real\\standard",
    codes: tuple[tuple[str, str], ...] = (("standard", "Standard"),),
    login_range_start: int = 500_000,
    manager_password_sealed: bytes = b"sealed",
    leverage_options: tuple[int, ...] = (100,),
) -> Product:
    """A USD server, group and account types ``codes`` (code, name), flushed so their ids are set."""
    server = TradingServer(
        name=server_name,
        platform=Platform.MT5,
        address="127.0.0.1:1",
        manager_login=1000,
        manager_password_sealed=manager_password_sealed,
        login_range_start=login_range_start,
    )
    session.add(server)
    await session.flush()
    group = TradingGroup(server_id=server.id, name=group_name, currency="USD")
    session.add(group)
    await session.flush()
    kinds = tuple(
        AccountType(
            code=code,
            name=name,
            server_id=server.id,
            group_id=group.id,
            currency="USD",
            leverage_options=list(leverage_options),
            auto_leverage_max=max(leverage_options),
        )
        for code, name in codes
    )
    session.add_all(kinds)
    await session.flush()
    return Product(server, group, kinds)

"""Product catalogue services: trading servers, groups, account types, symbols and symbol groups.

Plain functions on an ``AsyncSession`` inside the caller's transaction, so a back-office
controller (with its permission check and audit event) stays a thin wrapper around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import NotFoundError
from core.secrets_box import SecretsBox
from mt_bridge.connect import manager_password_context
from mt_bridge.errors import InvalidProductError
from mt_bridge.models import (
    AccountType,
    Platform,
    SymbolGroup,
    TradingGroup,
    TradingServer,
    TradingSymbol,
)
from mt_bridge.symbols import SymbolAliases

T = TypeVar("T")


async def add_server(
    session: AsyncSession,
    box: SecretsBox,
    *,
    name: str,
    platform: Platform,
    address: str,
    manager_login: int,
    manager_password: str,
    login_range_start: int,
    time_offset_minutes: int = 0,
    is_demo: bool = False,
) -> TradingServer:
    """Register a server; its manager password is sealed before it touches the database."""
    if not address.startswith(("https://", "http://")):
        raise InvalidProductError("a server address is an http(s) URL")
    if login_range_start <= 0:
        raise InvalidProductError("the login range must start above zero")
    server = TradingServer(
        name=name,
        platform=platform,
        address=address,
        manager_login=manager_login,
        manager_password_sealed=b"",
        login_range_start=login_range_start,
        time_offset_minutes=time_offset_minutes,
        is_demo=is_demo,
    )
    session.add(server)
    await session.flush()
    server.manager_password_sealed = box.seal(manager_password, manager_password_context(server.id))
    return server


async def change_server_password(
    session: AsyncSession, box: SecretsBox, server_id: int, manager_password: str
) -> None:
    server = await _get(session, TradingServer, server_id)
    server.manager_password_sealed = box.seal(manager_password, manager_password_context(server.id))


async def add_group(
    session: AsyncSession,
    server_id: int,
    *,
    name: str,
    currency: str,
    currency_digits: int = 2,
    leverage_min: int = 1,
    leverage_max: int = 500,
) -> TradingGroup:
    await _get(session, TradingServer, server_id)
    if not 1 <= leverage_min <= leverage_max:
        raise InvalidProductError("a group's leverage range needs 1 <= min <= max")
    group = TradingGroup(
        server_id=server_id,
        name=name,
        currency=currency,
        currency_digits=currency_digits,
        leverage_min=leverage_min,
        leverage_max=leverage_max,
    )
    session.add(group)
    await session.flush()
    return group


async def add_account_type(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    group_id: int,
    leverage_options: Sequence[int],
    auto_leverage_max: int | None = None,
    min_deposit: int = 0,
    demo_deposit: int = 0,
    is_demo: bool = False,
    needs_approval: bool = False,
) -> AccountType:
    """An account type on a group; every leverage option must fit the group's range."""
    group = await _get(session, TradingGroup, group_id)
    options = sorted(set(leverage_options))
    if not options or any(not group.leverage_min <= o <= group.leverage_max for o in options):
        raise InvalidProductError(
            f"leverage options must lie in the group's range {group.leverage_min}..{group.leverage_max}"
        )
    if min_deposit < 0 or demo_deposit < 0:
        raise InvalidProductError("deposits can't be negative")
    if demo_deposit and not is_demo:
        raise InvalidProductError("only a demo account type gives demo funds")
    account_type = AccountType(
        code=code,
        name=name,
        server_id=group.server_id,
        group_id=group.id,
        currency=group.currency,
        leverage_options=options,
        auto_leverage_max=auto_leverage_max if auto_leverage_max is not None else max(options),
        min_deposit=min_deposit,
        demo_deposit=demo_deposit,
        is_demo=is_demo,
        needs_approval=needs_approval,
    )
    session.add(account_type)
    await session.flush()
    return account_type


async def add_symbol_group(session: AsyncSession, name: str, description: str = "") -> SymbolGroup:
    group = SymbolGroup(name=name, description=description)
    session.add(group)
    await session.flush()
    return group


async def add_symbol(
    session: AsyncSession,
    *,
    name: str,
    contract_size: Decimal,
    digits: int,
    aliases: Sequence[str] = (),
    symbol_group_id: int | None = None,
) -> TradingSymbol:
    """A canonical symbol; an alias may name only one symbol and never another canonical name."""
    if contract_size <= 0 or digits < 0:
        raise InvalidProductError("contract size must be positive and digits not negative")
    if symbol_group_id is not None:
        await _get(session, SymbolGroup, symbol_group_id)
    taken = await alias_table_in(session)
    for alias in aliases:
        if alias in taken.aliases or alias == name:
            raise InvalidProductError(f"alias {alias!r} already names a symbol")
    names = set(await session.scalars(select(TradingSymbol.name)))
    if set(aliases) & names:
        raise InvalidProductError("an alias can't be another symbol's canonical name")
    symbol = TradingSymbol(
        name=name,
        contract_size=contract_size,
        digits=digits,
        aliases=list(aliases),
        symbol_group_id=symbol_group_id,
    )
    session.add(symbol)
    await session.flush()
    return symbol


async def alias_table_in(session: AsyncSession) -> SymbolAliases:
    rows = (await session.execute(select(TradingSymbol.name, TradingSymbol.aliases))).all()
    return SymbolAliases(aliases={alias: row.name for row in rows for alias in row.aliases or ()})


async def alias_table(db: Database) -> SymbolAliases:
    """Every alias → canonical name, for the adapters' normalisation."""
    async with db.session() as session:
        return await alias_table_in(session)


async def _get(session: AsyncSession, model: type[T], object_id: int) -> T:
    found = await session.get(model, object_id)
    if found is None:
        raise NotFoundError(f"no {model.__name__} {object_id}")
    return found

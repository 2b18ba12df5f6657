"""Product catalogue services: trading servers, groups, account types, symbols and symbol groups.

Plain functions on an ``AsyncSession`` inside the caller's transaction, so a back-office
controller (with its permission check and audit event) stays a thin wrapper around them. Adding
and changing a product check the same rules (one ``_check_*`` per product), and a change that
breaks one raises :class:`InvalidProductError` before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import Base, Database
from core.errors import NotFoundError
from core.secrets_box import SecretsBox
from mt_bridge.connect import manager_password_context
from mt_bridge.errors import InvalidProductError
from mt_bridge.models import (
    AccountType,
    Platform,
    SymbolGroup,
    TradingAccount,
    TradingGroup,
    TradingServer,
    TradingSymbol,
)
from mt_bridge.symbols import SymbolAliases

T = TypeVar("T")

SERVER_PLATFORMS = (Platform.MT5, Platform.MT4)
"""Platforms a server can be added for; the terminal adapter reads one login and manages nothing."""
MAX_OFFSET_MINUTES = 14 * 60


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
    enabled: bool = True,
) -> TradingServer:
    """Register a server; its manager password is sealed before it touches the database."""
    _check_server(platform, address, manager_login, time_offset_minutes, login_range_start)
    if not manager_password:
        raise InvalidProductError("enter the manager password")
    await _refuse_taken(session, TradingServer.name, name, "a server")
    server = TradingServer(
        name=name,
        platform=platform,
        address=address,
        manager_login=manager_login,
        manager_password_sealed=b"",
        login_range_start=login_range_start,
        time_offset_minutes=time_offset_minutes,
        is_demo=is_demo,
        enabled=enabled,
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
    _check_group(name, currency, currency_digits, leverage_min, leverage_max)
    await _refuse_taken(
        session, TradingGroup.name, name, "a group on this server", TradingGroup.server_id == server_id
    )
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
    enabled: bool = True,
) -> AccountType:
    """An account type on a group; every leverage option must fit the group's range."""
    account_type = AccountType()
    await _define_account_type(
        session, account_type, code, name, group_id, leverage_options, auto_leverage_max,
        min_deposit, demo_deposit, is_demo, needs_approval, enabled,
    )  # fmt: skip
    session.add(account_type)
    await session.flush()
    return account_type


async def add_symbol_group(session: AsyncSession, name: str, description: str = "") -> SymbolGroup:
    _check_name(name, "a symbol group", 64)
    await _refuse_taken(session, SymbolGroup.name, name, "a symbol group")
    group = SymbolGroup(name=name, description=description[:200])
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
    await _check_symbol(session, None, name, contract_size, digits, aliases, symbol_group_id)
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


async def update_server(
    session: AsyncSession,
    box: SecretsBox,
    server_id: int,
    *,
    name: str,
    address: str,
    manager_login: int,
    manager_password: str = "",
    time_offset_minutes: int = 0,
    is_demo: bool = False,
    enabled: bool = True,
) -> TradingServer:
    """Change a server; an empty ``manager_password`` keeps the sealed one (it is never shown)."""
    server = await _get(session, TradingServer, server_id)
    _check_server(server.platform, address, manager_login, time_offset_minutes, server.login_range_start)
    await _refuse_taken(session, TradingServer.name, name, "a server", TradingServer.id != server_id)
    server.name, server.address, server.manager_login = name, address, manager_login
    server.time_offset_minutes, server.is_demo, server.enabled = time_offset_minutes, is_demo, enabled
    if manager_password:
        server.manager_password_sealed = box.seal(manager_password, manager_password_context(server.id))
    server.updated_at = utcnow()
    return server


async def update_group(
    session: AsyncSession,
    group_id: int,
    *,
    name: str,
    currency: str,
    currency_digits: int = 2,
    leverage_min: int = 1,
    leverage_max: int = 500,
) -> TradingGroup:
    """Change a group; its account types' leverage options must still fit, and a currency in use
    (by an account type or an account) can't change under them."""
    group = await _get(session, TradingGroup, group_id)
    _check_group(name, currency, currency_digits, leverage_min, leverage_max)
    await _refuse_taken(
        session,
        TradingGroup.name,
        name,
        "a group on this server",
        TradingGroup.server_id == group.server_id,
        TradingGroup.id != group_id,
    )
    types = list(await session.scalars(select(AccountType).where(AccountType.group_id == group_id)))
    if (currency, currency_digits) != (group.currency, group.currency_digits) and (
        types or await _accounts_in_group(session, group)
    ):
        raise InvalidProductError("the currency of a group in use can't change")
    for account_type in types:
        if any(not leverage_min <= option <= leverage_max for option in account_type.leverage_options):
            raise InvalidProductError(
                f"account type {account_type.code} offers leverage outside {leverage_min}..{leverage_max}"
            )
    if name != group.name and await _accounts_in_group(session, group):
        raise InvalidProductError(
            "a group with trading accounts can't be renamed here (rename it on the server)"
        )
    group.name, group.currency, group.currency_digits = name, currency, currency_digits
    group.leverage_min, group.leverage_max = leverage_min, leverage_max
    return group


async def update_account_type(
    session: AsyncSession,
    account_type_id: int,
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
    enabled: bool = True,
) -> AccountType:
    """Change an account type; accounts already opened keep their group, currency and leverage."""
    account_type = await _get(session, AccountType, account_type_id)
    await _define_account_type(
        session, account_type, code, name, group_id, leverage_options, auto_leverage_max,
        min_deposit, demo_deposit, is_demo, needs_approval, enabled,
    )  # fmt: skip
    return account_type


async def _define_account_type(
    session: AsyncSession,
    account_type: AccountType,
    code: str,
    name: str,
    group_id: int,
    leverage_options: Sequence[int],
    auto_leverage_max: int | None,
    min_deposit: int,
    demo_deposit: int,
    is_demo: bool,
    needs_approval: bool,
    enabled: bool,
) -> None:
    """Check and set every field of a new or existing account type (server and currency come
    from its group)."""
    group = await _get(session, TradingGroup, group_id)
    options = _check_account_type(
        code, name, group, leverage_options, auto_leverage_max, min_deposit, demo_deposit, is_demo
    )
    others = () if account_type.id is None else (AccountType.id != account_type.id,)
    await _refuse_taken(session, AccountType.code, code, "an account type", *others)
    account_type.code, account_type.name = code, name
    account_type.server_id, account_type.group_id, account_type.currency = (
        group.server_id,
        group.id,
        group.currency,
    )
    account_type.leverage_options = options
    account_type.auto_leverage_max = auto_leverage_max if auto_leverage_max is not None else max(options)
    account_type.min_deposit, account_type.demo_deposit = min_deposit, demo_deposit
    account_type.is_demo, account_type.needs_approval, account_type.enabled = is_demo, needs_approval, enabled


async def update_symbol_group(
    session: AsyncSession, symbol_group_id: int, *, name: str, description: str = ""
) -> SymbolGroup:
    group = await _get(session, SymbolGroup, symbol_group_id)
    _check_name(name, "a symbol group", 64)
    await _refuse_taken(session, SymbolGroup.name, name, "a symbol group", SymbolGroup.id != symbol_group_id)
    group.name, group.description = name, description[:200]
    return group


async def update_symbol(
    session: AsyncSession,
    symbol_id: int,
    *,
    name: str,
    contract_size: Decimal,
    digits: int,
    aliases: Sequence[str] = (),
    symbol_group_id: int | None = None,
) -> TradingSymbol:
    symbol = await _get(session, TradingSymbol, symbol_id)
    await _check_symbol(session, symbol_id, name, contract_size, digits, aliases, symbol_group_id)
    symbol.name, symbol.contract_size, symbol.digits = name, contract_size, digits
    symbol.aliases, symbol.symbol_group_id = list(aliases), symbol_group_id
    return symbol


def product_snapshot(product: Base) -> dict[str, object]:
    """A product's columns as plain values for an audit event's before/after; sealed secrets are
    left out (a changed password is recorded as a masked flag by the caller)."""
    values: dict[str, object] = {}
    for column in product.__table__.columns:
        if column.key.endswith("_sealed") or column.key in ("created_at", "updated_at"):
            continue
        value = getattr(product, column.key)
        values[column.key] = (
            value.value
            if isinstance(value, Platform)
            else str(value)
            if isinstance(value, Decimal)
            else value
        )
    return values


def _check_name(value: str, what: str, limit: int) -> None:
    if not value.strip():
        raise InvalidProductError(f"{what} needs a name")
    if len(value) > limit:
        raise InvalidProductError(f"the name of {what} is at most {limit} characters")


def _check_server(
    platform: Platform, address: str, manager_login: int, time_offset_minutes: int, login_range_start: int
) -> None:
    if platform not in SERVER_PLATFORMS:
        raise InvalidProductError("a server runs MT5 or MT4")
    if not address.startswith(("https://", "http://")) or len(address) > 200:
        raise InvalidProductError("a server address is an http(s) URL")
    if manager_login <= 0:
        raise InvalidProductError("the manager login is a positive number")
    if abs(time_offset_minutes) > MAX_OFFSET_MINUTES:
        raise InvalidProductError("the time-zone offset lies within 14 hours of UTC")
    if login_range_start <= 0:
        raise InvalidProductError("the login range must start above zero")


def _check_group(
    name: str, currency: str, currency_digits: int, leverage_min: int, leverage_max: int
) -> None:
    _check_name(name, "a group", 64)
    if not (3 <= len(currency) <= 8 and currency.isalnum() and currency.isupper()):
        raise InvalidProductError("a currency is a code of 3 to 8 capital letters, such as USD")
    if not 0 <= currency_digits <= 8:
        raise InvalidProductError("a currency has 0 to 8 decimal places")
    if not 1 <= leverage_min <= leverage_max:
        raise InvalidProductError("a group's leverage range needs 1 <= min <= max")


def _check_account_type(
    code: str,
    name: str,
    group: TradingGroup,
    leverage_options: Sequence[int],
    auto_leverage_max: int | None,
    min_deposit: int,
    demo_deposit: int,
    is_demo: bool,
) -> list[int]:
    """The rules of an account type; returns its leverage options sorted, without repeats."""
    _check_name(code, "an account type code", 32)
    _check_name(name, "an account type", 100)
    options = sorted(set(leverage_options))
    if not options or any(not group.leverage_min <= o <= group.leverage_max for o in options):
        raise InvalidProductError(
            f"leverage options must lie in the group's range {group.leverage_min}..{group.leverage_max}"
        )
    if auto_leverage_max is not None and auto_leverage_max < 1:
        raise InvalidProductError("the automatic leverage limit is at least 1")
    if min_deposit < 0 or demo_deposit < 0:
        raise InvalidProductError("deposits can't be negative")
    if demo_deposit and not is_demo:
        raise InvalidProductError("only a demo account type gives demo funds")
    return options


async def _check_symbol(
    session: AsyncSession,
    symbol_id: int | None,
    name: str,
    contract_size: Decimal,
    digits: int,
    aliases: Sequence[str],
    symbol_group_id: int | None,
) -> None:
    _check_name(name, "a symbol", 32)
    if contract_size <= 0 or digits < 0:
        raise InvalidProductError("contract size must be positive and digits not negative")
    if symbol_group_id is not None:
        await _get(session, SymbolGroup, symbol_group_id)
    others = (
        await session.execute(
            select(TradingSymbol.name, TradingSymbol.aliases).where(TradingSymbol.id != (symbol_id or 0))
        )
    ).all()
    if name in {row.name for row in others}:
        raise InvalidProductError(f"a symbol named {name!r} exists already")
    taken = {alias for row in others for alias in row.aliases or ()}
    names = {row.name for row in others}
    for alias in aliases:
        if alias in taken or alias == name:
            raise InvalidProductError(f"alias {alias!r} already names a symbol")
        if alias in names:
            raise InvalidProductError("an alias can't be another symbol's canonical name")


async def _refuse_taken(session: AsyncSession, column: Any, value: str, what: str, *where: Any) -> None:
    """A clear refusal instead of the database's unique-constraint error."""
    if await session.scalar(select(func.count()).where(column == value, *where)):
        raise InvalidProductError(f"{what} named {value!r} exists already")


async def _accounts_in_group(session: AsyncSession, group: TradingGroup) -> bool:
    count = await session.scalar(
        select(func.count())
        .select_from(TradingAccount)
        .where(TradingAccount.server_id == group.server_id, TradingAccount.group_name == group.name)
    )
    return bool(count)


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

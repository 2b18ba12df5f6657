"""Demo trading products: a server pointing at the demo's MT5 emulator, its groups and symbols as
the emulator's configuration defines them, and three account types (demo, live, live with
approval); with :func:`seed_mt4_trading`, an MT4 server on a second emulator, reached through its
Manager-API gateway, with an MT4 demo and an MT4 live type. Idempotent: on a later start only a
server's address (its emulator's new port) and manager password are brought up to date.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.db import Database
from core.secrets_box import SecretsBox
from core.settings import Settings
from mt_bridge import products
from mt_bridge.emulator.config import EmulatorConfig
from mt_bridge.models import Platform, TradingGroup, TradingServer, TradingSymbol

DEMO_SERVER = "Demo MT5"
DEMO_LOGIN_RANGE_START = 800000
DEMO_GROUP = "demo\\forex-usd"
LIVE_GROUP = "real\\netting-usd"
ACCOUNT_TYPES = (
    # code, name, group, leverage options, automatic up to, minimum deposit, demo funds, approval
    ("demo", "Demo USD", DEMO_GROUP, [50, 100, 200, 500], 500, 0, 1_000_000, False),
    ("standard", "Standard", LIVE_GROUP, [50, 100, 200], 100, 10_000, 0, False),
    ("pro", "Pro", LIVE_GROUP, [100, 200], 100, 100_000, 0, True),
)
DEMO_MT4_SERVER = "Demo MT4"
DEMO_MT4_LOGIN_RANGE_START = 900000
MT4_ACCOUNT_TYPES = (
    ("mt4-demo", "MT4 Demo USD", DEMO_GROUP, [50, 100, 200, 500], 500, 0, 1_000_000, False),
    ("mt4-classic", "MT4 Classic", LIVE_GROUP, [50, 100, 200], 100, 10_000, 0, False),
)
FOREX_GROUP = "Forex"
SYMBOL_GROUPS = {"XAU": "Metals", "XAG": "Metals"}
"""Symbols whose name starts with a key belong to that group; the rest are :data:`FOREX_GROUP`."""


def canonical(name: str) -> str:
    """``XAUUSD.m`` is ``XAUUSD``: a suffix after the dot is the server's spelling."""
    return name.split(".", 1)[0]


async def seed_trading(database: Database, settings: Settings, url: str, config: EmulatorConfig) -> list[str]:
    """The MT5 server on the emulator at ``url``, its products and the symbol catalogue."""
    return await _seed_server(
        database, settings, url, config, DEMO_SERVER, Platform.MT5, DEMO_LOGIN_RANGE_START, ACCOUNT_TYPES
    )


async def seed_mt4_trading(
    database: Database, settings: Settings, url: str, config: EmulatorConfig
) -> list[str]:
    """The MT4 server on the emulator at ``url`` (its gateway under ``/v1/``) and its products."""
    return await _seed_server(
        database,
        settings,
        url,
        config,
        DEMO_MT4_SERVER,
        Platform.MT4,
        DEMO_MT4_LOGIN_RANGE_START,
        MT4_ACCOUNT_TYPES,
    )


async def _seed_server(
    database: Database,
    settings: Settings,
    url: str,
    config: EmulatorConfig,
    server_name: str,
    platform: Platform,
    login_range_start: int,
    account_types: tuple[tuple[str, str, str, list[int], int, int, int, bool], ...],
) -> list[str]:
    box = SecretsBox.from_settings(settings)
    manager_login, manager_password = next(iter(sorted(config.managers.items())))
    async with database.transaction() as session:
        server = await session.scalar(select(TradingServer).where(TradingServer.name == server_name))
        if server is not None:
            await products.update_server(
                session,
                box,
                server.id,
                name=server.name,
                address=url,
                manager_login=manager_login,
                manager_password=manager_password,
                time_offset_minutes=config.time_offset_minutes,
                is_demo=server.is_demo,
                enabled=True,
            )
            return [
                f"Trading server {server_name!r} now points at the {platform.value.upper()} emulator {url}"
            ]
        server = await products.add_server(
            session,
            box,
            name=server_name,
            platform=platform,
            address=url,
            manager_login=manager_login,
            manager_password=manager_password,
            login_range_start=login_range_start,
            time_offset_minutes=config.time_offset_minutes,
        )
        groups: dict[str, TradingGroup] = {}
        for group in config.groups:
            groups[group.name] = await products.add_group(
                session,
                server.id,
                name=group.name,
                currency=group.currency,
                currency_digits=group.currency_digits,
                leverage_min=group.leverage_min,
                leverage_max=group.leverage_max,
            )
        for code, name, group_name, options, automatic, minimum, funds, approval in account_types:
            await products.add_account_type(
                session,
                code=code,
                name=name,
                group_id=groups[group_name].id,
                leverage_options=options,
                auto_leverage_max=automatic,
                min_deposit=minimum,
                demo_deposit=funds,
                is_demo=funds > 0,
                needs_approval=approval,
            )
        if await session.scalar(select(TradingSymbol.id).limit(1)) is None:
            symbol_groups = {
                title: (await products.add_symbol_group(session, title)).id
                for title in sorted({*SYMBOL_GROUPS.values(), FOREX_GROUP})
            }
            for symbol in config.symbols:
                name = canonical(symbol.name)
                await products.add_symbol(
                    session,
                    name=name,
                    contract_size=Decimal(symbol.contract_size),
                    digits=symbol.digits,
                    aliases=[symbol.name] if symbol.name != name else [],
                    symbol_group_id=symbol_groups[SYMBOL_GROUPS.get(name[:3], FOREX_GROUP)],
                )
    return [
        f"Trading server {server_name!r} on the {platform.value.upper()} emulator {url}: account types "
        + ", ".join(code for code, *_rest in account_types)
    ]

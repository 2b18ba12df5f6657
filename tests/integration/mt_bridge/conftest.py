"""The MT5 emulator served in-process on 127.0.0.1 with an ephemeral port, and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from core.db import Database
from mt_bridge.emulator.config import EmulatorConfig, load_config
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.mt5.client import Mt5WebApiPlatform
from mt_bridge.mt5.settings import Mt5ServerSettings
from mt_bridge.records import BalanceOperation, BalanceOperationType, NewAccount
from mt_bridge.symbols import SymbolAliases
from tests.integration.mt_bridge.bridge_setup import Crm, build_crm

MANAGER_LOGIN = 1000
MANAGER_PASSWORD = "Manager1!"
HEDGING_GROUP = "demo\\forex-usd"
NETTING_GROUP = "real\\netting-usd"
EUR_GROUP = "real\\eur"
ALIASES = SymbolAliases(suffixes=(".m",))

EmulatorFactory = Callable[..., Awaitable[Emulator]]
PlatformFactory = Callable[..., Mt5WebApiPlatform]


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The documented default configuration with the 10 s window and idle limit left as they are."""
    return load_config()


@pytest.fixture
async def start_emulator(emulator_config: EmulatorConfig) -> AsyncIterator[EmulatorFactory]:
    """Start emulators on 127.0.0.1 with ephemeral ports; all are stopped after the test."""
    started: list[Emulator] = []

    async def start(*, tls: bool = True, **changes: Any) -> Emulator:
        emulator = Emulator(emulator_config.with_changes(**changes), tls=tls)
        await emulator.start("127.0.0.1", 0)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        await emulator.stop()


@pytest.fixture(params=["https", "http"])
async def emulator(request: pytest.FixtureRequest, start_emulator: EmulatorFactory) -> Emulator:
    """One emulator, over HTTPS with its self-signed certificate and over plain HTTP."""
    return await start_emulator(tls=request.param == "https")


@pytest.fixture
async def https_emulator(start_emulator: EmulatorFactory) -> Emulator:
    return await start_emulator(tls=True)


@pytest.fixture
async def make_platform() -> AsyncIterator[PlatformFactory]:
    """Build real Web API clients for an emulator; all are closed after the test."""
    made: list[Mt5WebApiPlatform] = []

    def make(emulator: Emulator, *, password: str = MANAGER_PASSWORD, **settings: Any) -> Mt5WebApiPlatform:
        verify = emulator.certificate.client_context() if emulator.certificate is not None else True
        options: dict[str, Any] = {
            "base_url": emulator.base_url,
            "manager_login": MANAGER_LOGIN,
            "manager_password": password,
            "verify": verify,
            "server_offset": timedelta(minutes=emulator.config.time_offset_minutes),
            "symbol_aliases": ALIASES,
            **settings,
        }
        platform = Mt5WebApiPlatform(Mt5ServerSettings(**options))
        made.append(platform)
        return platform

    yield make
    for platform in made:
        await platform.close()


@pytest.fixture
def platform(emulator: Emulator, make_platform: PlatformFactory) -> Mt5WebApiPlatform:
    return make_platform(emulator)


async def open_funded_account(
    platform: Mt5WebApiPlatform, *, group: str = HEDGING_GROUP, deposit: int = 1_000_000, leverage: int = 100
) -> int:
    """Open an account through the client and deposit ``deposit`` minor units; returns its login."""
    account = await platform.create_account(
        NewAccount(
            group=group,
            name="Test Trader",
            leverage=leverage,
            main_password="Main1pass!",
            investor_password="Inv1pass!",
        )
    )
    if deposit:
        await platform.post_balance_operation(
            BalanceOperation(
                account.login, BalanceOperationType.BALANCE, deposit, account.currency_digits, "initial"
            )
        )
    return account.login


@pytest.fixture
async def crm_emulator(start_emulator: EmulatorFactory) -> Emulator:
    """A plain-HTTP emulator for the CRM tests (the TLS path is covered by the client's tests)."""
    return await start_emulator(tls=False)


@pytest.fixture
async def crm(db: Database, crm_emulator: Emulator) -> AsyncIterator[Crm]:
    """The CRM (database, ledger, outbox, sync) wired to ``crm_emulator``."""
    built = await build_crm(db, crm_emulator)
    yield built
    await built.directory.close()

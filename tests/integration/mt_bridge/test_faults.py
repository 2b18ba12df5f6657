"""Injected faults: the client must never hide an unknown outcome, nor lose or repeat a change."""

from __future__ import annotations

import asyncio

import pytest

from mt_bridge.emulator.config import FaultConfig
from mt_bridge.emulator.faults import Fault, FaultKind
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.errors import OutcomeUnknownError, PlatformRejectedError
from mt_bridge.records import BalanceOperation, BalanceOperationType
from tests.integration.mt_bridge.conftest import EmulatorFactory, PlatformFactory, open_funded_account

BALANCE = "/api/trade/balance"


def deals_with_comment(emulator: Emulator, comment: str) -> int:
    return sum(1 for deal in emulator.server.deals.values() if deal.comment == comment)


def deposit(login: int, comment: str, amount: int = 1_000) -> BalanceOperation:
    return BalanceOperation(login, BalanceOperationType.BALANCE, amount, 2, comment)


async def test_dropped_after_apply_is_an_unknown_outcome_applied_once(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=0)
    emulator.faults.queue(BALANCE, Fault(FaultKind.DROP_AFTER_APPLY))
    with pytest.raises(OutcomeUnknownError):
        await platform.post_balance_operation(deposit(login, "bd:op-1"))
    assert deals_with_comment(emulator, "bd:op-1") == 1
    account = await platform.get_account(login)
    assert account.balance == 1_000
    assert platform.connection.sign_ins == 2


async def test_dropped_before_apply_is_unknown_and_nothing_happened(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=0)
    emulator.faults.queue(BALANCE, Fault(FaultKind.DROP_BEFORE_APPLY))
    with pytest.raises(OutcomeUnknownError):
        await platform.post_balance_operation(deposit(login, "bd:op-2"))
    assert deals_with_comment(emulator, "bd:op-2") == 0


async def test_injected_retcode_is_a_typed_refusal_with_nothing_applied(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=0)
    emulator.faults.queue(BALANCE, Fault(FaultKind.ERROR, retcode=10))
    with pytest.raises(PlatformRejectedError) as refused:
        await platform.post_balance_operation(deposit(login, "bd:op-3"))
    assert refused.value.retcode == 10
    assert deals_with_comment(emulator, "bd:op-3") == 0
    assert platform.connection.sign_ins == 1


async def test_timeout_after_commit_is_unknown_and_applied_once(
    start_emulator: EmulatorFactory, make_platform: PlatformFactory
) -> None:
    emulator = await start_emulator(tls=True)
    platform = make_platform(emulator, request_timeout=0.4)
    login = await open_funded_account(platform, deposit=0)
    emulator.faults.queue(BALANCE, Fault(FaultKind.DELAY, delay_seconds=1.0))
    with pytest.raises(OutcomeUnknownError):
        await platform.post_balance_operation(deposit(login, "bd:op-4"))
    assert deals_with_comment(emulator, "bd:op-4") == 1
    assert (await platform.get_account(login)).balance == 1_000


async def test_reads_are_repeated_after_a_drop(emulator: Emulator, make_platform: PlatformFactory) -> None:
    platform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=5_000)
    emulator.faults.queue("/api/user/get", Fault(FaultKind.DROP_AFTER_APPLY))
    account = await platform.get_account(login)
    assert account.balance == 5_000
    assert platform.connection.sign_ins == 2


async def test_random_faults_at_configured_rates_never_double_or_lose(
    start_emulator: EmulatorFactory, make_platform: PlatformFactory
) -> None:
    emulator = await start_emulator(tls=False)
    platform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=0)
    emulator.faults.configure(
        FaultConfig(error_rate=0.15, drop_after_apply_rate=0.1, error_retcode=10, endpoints=(BALANCE,))
    )
    applied: list[str] = []
    unknown: list[str] = []
    refused: list[tuple[str, int]] = []
    for index in range(150):
        comment = f"bd:rand-{index}"
        try:
            await platform.post_balance_operation(deposit(login, comment, amount=100))
        except OutcomeUnknownError:
            unknown.append(comment)
        except PlatformRejectedError as exc:
            refused.append((comment, exc.retcode))
        else:
            applied.append(comment)
    kinds = [kind for _, kind in emulator.faults.inflicted]
    assert len(refused) == kinds.count(FaultKind.ERROR) > 0
    assert len(unknown) == kinds.count(FaultKind.DROP_AFTER_APPLY) > 0
    assert all(deals_with_comment(emulator, c) == 1 for c in applied + unknown)
    assert {retcode for _, retcode in refused} == {10}
    assert all(deals_with_comment(emulator, c) == 0 for c, _ in refused)
    emulator.faults.configure(FaultConfig())
    assert (await platform.get_account(login)).balance == 100 * (len(applied) + len(unknown))


async def test_change_after_a_silent_drop_is_sent_again_only_after_signing_in(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=0)
    emulator.drop_all_connections()
    await asyncio.sleep(0.05)  # the connection died while idle, before the next request
    # The client can't know its session died with the connection: the deposit first reaches the
    # server on a fresh, unauthenticated connection, is refused (nothing applied), and goes again
    # after signing in.
    await platform.post_balance_operation(deposit(login, "bd:after-drop"))
    assert deals_with_comment(emulator, "bd:after-drop") == 1
    assert platform.connection.sign_ins == 2
    assert (await platform.get_account(login)).balance == 1_000

"""The MT4 adapter against the emulator acting as a Manager-API gateway, over a real socket."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import utcnow
from mt_bridge.emulator.faults import Fault, FaultKind
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.errors import AccountExistsError, NotEnoughPermissionsError, OutcomeUnknownError
from mt_bridge.mt4.client import Mt4GatewayPlatform, Mt4GatewaySettings
from mt_bridge.platform import DealQuery, PositionQuery
from mt_bridge.records import BalanceOperation, BalanceOperationType, DealAction, NewAccount
from tests.integration.mt_bridge.conftest import ALIASES, HEDGING_GROUP, MANAGER_LOGIN, MANAGER_PASSWORD


def gateway(emulator: Emulator, password: str = MANAGER_PASSWORD) -> Mt4GatewayPlatform:
    return Mt4GatewayPlatform(
        Mt4GatewaySettings(
            base_url=emulator.base_url,
            manager_login=MANAGER_LOGIN,
            manager_password=password,
            server_offset=timedelta(minutes=emulator.config.time_offset_minutes),
            symbol_aliases=ALIASES,
            verify=emulator.certificate.client_context() if emulator.certificate else True,
        )
    )


async def open_account(platform: Mt4GatewayPlatform, deposit: int) -> int:
    account = await platform.create_account(
        NewAccount(HEDGING_GROUP, "MT4 Trader", 100, "Main1pass!", "Inv1pass!", login=700001)
    )
    await platform.post_balance_operation(
        BalanceOperation(account.login, BalanceOperationType.BALANCE, deposit, 2, "BD#9 deposit")
    )
    return account.login


async def test_orders_become_deal_legs_whose_money_is_the_balance(emulator: Emulator) -> None:
    platform = gateway(emulator)
    try:
        login = await open_account(platform, 20_000_00)
        made = emulator.simulator.run(80)
        assert made
        deals = await platform.fetch_deals(
            DealQuery(
                since=utcnow() - timedelta(hours=1), until=utcnow() + timedelta(minutes=1), logins=[login]
            )
        )
        account = await platform.get_account(login)
        money = sum(d.profit + d.commission + d.swap + d.fee for d in deals if d.action != DealAction.CREDIT)
        assert money == account.balance
        assert any(d.comment == "BD#9 deposit" and d.action == DealAction.BALANCE for d in deals)
        assert len({d.ticket for d in deals}) == len(deals)
        assert all(d.symbol != "XAUUSD.m" for d in deals)
        positions = await platform.fetch_positions(PositionQuery(logins=[login]))
        assert {p.ticket for p in positions} == {
            p.ticket for p in emulator.server.positions.values() if p.login == login
        }
        with pytest.raises(AccountExistsError):
            await platform.create_account(
                NewAccount(HEDGING_GROUP, "Again", 100, "Main1pass!", "Inv1pass!", login=login)
            )
        assert (await platform.change_leverage(login, 200)).leverage == 200
    finally:
        await platform.close()


async def test_a_dropped_answer_is_an_unknown_outcome_and_a_wrong_password_is_refused(
    emulator: Emulator,
) -> None:
    platform = gateway(emulator)
    intruder = gateway(emulator, password="Wrong1pass!")
    try:
        login = await open_account(platform, 100_00)
        emulator.faults.queue(f"/v1/users/{login}/balance", Fault(FaultKind.DROP_AFTER_APPLY))
        with pytest.raises(OutcomeUnknownError):
            await platform.post_balance_operation(
                BalanceOperation(login, BalanceOperationType.BALANCE, 5_00, 2, "BD#10")
            )
        assert (await platform.get_account(login)).balance == 105_00
        with pytest.raises(NotEnoughPermissionsError):
            await intruder.get_account(login)
    finally:
        await platform.close()
        await intruder.close()

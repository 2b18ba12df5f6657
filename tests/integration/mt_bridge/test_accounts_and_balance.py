"""Accounts and balance operations through the real client against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from mt_bridge.emulator.http_server import Emulator
from mt_bridge.errors import (
    AccountExistsError,
    DifferentCurrencyError,
    InvalidParametersError,
    InvalidPasswordError,
    MoneyLimitError,
    NotEnoughMoneyError,
    PlatformNotFoundError,
)
from mt_bridge.mt5.client import Mt5WebApiPlatform
from mt_bridge.platform import DealQuery
from mt_bridge.records import BalanceOperation, BalanceOperationType, NewAccount, PasswordKind, PositionSide
from tests.integration.mt_bridge.conftest import EUR_GROUP, HEDGING_GROUP, NETTING_GROUP, open_funded_account
from tests.integration.mt_bridge.test_session import raw_client, sign_in_by_hand


def new_account(**changes: object) -> NewAccount:
    fields: dict[str, object] = {
        "group": HEDGING_GROUP,
        "name": "Ann Trader",
        "leverage": 100,
        "main_password": "Main1pass!",
        "investor_password": "Inv1pass!",
        **changes,
    }
    return NewAccount(**fields)  # type: ignore[arg-type]


async def test_create_get_and_update_an_account(platform: Mt5WebApiPlatform, emulator: Emulator) -> None:
    created = await platform.create_account(new_account())
    assert created.login == emulator.config.first_login
    assert (created.group, created.name, created.leverage, created.currency) == (
        HEDGING_GROUP,
        "Ann Trader",
        100,
        "USD",
    )
    assert (created.balance, created.equity) == (0, 0)

    fetched = await platform.get_account(created.login)
    assert fetched == created

    raised = await platform.change_leverage(created.login, 500)
    assert raised.leverage == 500
    with pytest.raises(InvalidParametersError):
        await platform.change_leverage(created.login, 501)

    await platform.change_leverage(created.login, 200)
    moved = await platform.change_group(created.login, NETTING_GROUP)
    assert (moved.group, moved.leverage) == (NETTING_GROUP, 200)


async def test_group_leverage_limits_apply_when_moving(platform: Mt5WebApiPlatform) -> None:
    created = await platform.create_account(new_account(leverage=500))
    with pytest.raises(InvalidParametersError):
        await platform.change_group(created.login, NETTING_GROUP)  # allows at most 1:200
    assert (await platform.get_account(created.login)).group == HEDGING_GROUP


async def test_moving_to_another_currency_is_refused(platform: Mt5WebApiPlatform) -> None:
    created = await platform.create_account(new_account())
    with pytest.raises(DifferentCurrencyError):
        await platform.change_group(created.login, EUR_GROUP)


async def test_chosen_login_duplicates_and_password_rules(platform: Mt5WebApiPlatform) -> None:
    chosen = await platform.create_account(new_account(login=777001))
    assert chosen.login == 777001
    with pytest.raises(AccountExistsError):
        await platform.create_account(new_account(login=777001))
    with pytest.raises(InvalidPasswordError):
        await platform.create_account(new_account(main_password="weakpass"))
    with pytest.raises(InvalidParametersError):
        await platform.create_account(new_account(group="no\\such-group"))
    with pytest.raises(InvalidParametersError):
        await platform.create_account(new_account(leverage=0))


async def test_change_password_follows_the_rules(platform: Mt5WebApiPlatform, emulator: Emulator) -> None:
    created = await platform.create_account(new_account())
    await platform.change_password(created.login, PasswordKind.INVESTOR, "NewInv1pass!")
    assert emulator.server.users[created.login].password_investor == "NewInv1pass!"
    with pytest.raises(InvalidPasswordError):
        await platform.change_password(created.login, PasswordKind.MAIN, "short")
    with pytest.raises(PlatformNotFoundError):
        await platform.change_password(424242, PasswordKind.MAIN, "NewMain1pass!")


async def test_unknown_login_is_not_found(platform: Mt5WebApiPlatform) -> None:
    with pytest.raises(PlatformNotFoundError) as missing:
        await platform.get_account(999999)
    assert missing.value.retcode == 13


async def test_passwords_in_the_query_string_are_refused(emulator: Emulator) -> None:
    async with raw_client(emulator) as client:
        await sign_in_by_hand(client)
        answer = (
            await client.get(
                "/api/user/add",
                params={"group": HEDGING_GROUP, "name": "X", "leverage": 100, "PassMain": "Main1pass!"},
            )
        ).json()
        assert answer["retcode"].startswith("3 ")


async def test_answers_carry_numbers_as_strings(emulator: Emulator) -> None:
    async with raw_client(emulator) as client:
        await sign_in_by_hand(client)
        added = (
            await client.post(
                "/api/user/add",
                params={"group": HEDGING_GROUP, "name": "Str", "leverage": 100},
                json={"PassMain": "Main1pass!", "PassInvestor": "Inv1pass!"},
            )
        ).json()
        assert added["retcode"] == "0 Done"
        assert isinstance(added["login"], str)
        assert all(isinstance(value, str) for value in added["answer"].values())
        assert added["answer"]["Leverage"] == "100"


async def test_deposit_and_withdrawal_show_as_balance_deals(platform: Mt5WebApiPlatform) -> None:
    started = datetime.now(UTC) - timedelta(seconds=2)
    login = await open_funded_account(platform, deposit=1_234_567)
    ticket = await platform.post_balance_operation(
        BalanceOperation(login, BalanceOperationType.BALANCE, -34_567, 2, "bd:withdrawal-1")
    )
    account = await platform.get_account(login)
    assert account.balance == 1_200_000
    assert account.equity == 1_200_000

    deals = await platform.fetch_deals(
        DealQuery(since=started, until=datetime.now(UTC) + timedelta(seconds=2), logins=[login])
    )
    assert [(d.action, d.profit, d.comment) for d in deals] == [
        (2, 1_234_567, "initial"),
        (2, -34_567, "bd:withdrawal-1"),
    ]
    assert deals[1].ticket == ticket
    assert all(abs(d.time - datetime.now(UTC)) < timedelta(seconds=5) for d in deals)


async def test_credit_and_bonus_are_kept_apart_from_balance(platform: Mt5WebApiPlatform) -> None:
    login = await open_funded_account(platform, deposit=10_000)
    await platform.post_balance_operation(
        BalanceOperation(login, BalanceOperationType.CREDIT, 5_000, 2, "credit")
    )
    await platform.post_balance_operation(
        BalanceOperation(login, BalanceOperationType.BONUS, 2_500, 2, "bonus")
    )
    account = await platform.get_account(login)
    assert (account.balance, account.credit, account.equity) == (12_500, 5_000, 17_500)
    with pytest.raises(NotEnoughMoneyError):
        await platform.post_balance_operation(
            BalanceOperation(login, BalanceOperationType.CREDIT, -5_001, 2, "")
        )


async def test_money_limit_is_4005(platform: Mt5WebApiPlatform) -> None:
    login = await open_funded_account(platform, deposit=0)
    with pytest.raises(MoneyLimitError) as refused:
        await platform.post_balance_operation(
            BalanceOperation(login, BalanceOperationType.BALANCE, 100_000_000_001, 2, "too much")
        )
    assert refused.value.retcode == 4005
    await platform.post_balance_operation(
        BalanceOperation(login, BalanceOperationType.BALANCE, 100_000_000_000, 2, "at the limit")
    )
    assert (await platform.get_account(login)).balance == 100_000_000_000


async def test_not_enough_money_is_10019(platform: Mt5WebApiPlatform, emulator: Emulator) -> None:
    login = await open_funded_account(platform, deposit=200_000)
    with pytest.raises(NotEnoughMoneyError) as refused:
        await platform.post_balance_operation(
            BalanceOperation(login, BalanceOperationType.BALANCE, -200_001, 2, "")
        )
    assert refused.value.retcode == 10019

    from mt_bridge.emulator.trading import market_deal

    market_deal(emulator.server, login, "EURUSD", PositionSide.BUY, Decimal("1.00"))  # ~1,085 USD margin
    with pytest.raises(NotEnoughMoneyError):
        await platform.post_balance_operation(
            BalanceOperation(login, BalanceOperationType.BALANCE, -150_000, 2, "")
        )
    await platform.post_balance_operation(
        BalanceOperation(login, BalanceOperationType.BALANCE, -150_000, 2, "", check_margin=False)
    )


async def test_long_comments_never_leave_the_client(platform: Mt5WebApiPlatform, emulator: Emulator) -> None:
    login = await open_funded_account(platform, deposit=0)
    with pytest.raises(InvalidParametersError):
        await platform.post_balance_operation(
            BalanceOperation(login, BalanceOperationType.BALANCE, 100, 2, "x" * 32)
        )
    assert not [deal for deal in emulator.server.deals.values() if deal.login == login]


async def test_balance_amount_goes_out_exactly(emulator: Emulator) -> None:
    async with raw_client(emulator) as client:
        await sign_in_by_hand(client)
        added = (
            await client.post(
                "/api/user/add",
                params={"group": EUR_GROUP, "name": "Exact", "leverage": 100},
                json={"PassMain": "Main1pass!", "PassInvestor": "Inv1pass!"},
            )
        ).json()
        login = added["login"]
        sub_cent = (
            await client.get("/api/trade/balance", params={"login": login, "type": 2, "balance": "0.001"})
        ).json()
        assert sub_cent["retcode"].startswith("3 ")
        ok = (
            await client.get("/api/trade/balance", params={"login": login, "type": 2, "balance": "0.10"})
        ).json()
        assert ok["retcode"] == "0 Done"
        got = (await client.get("/api/user/get", params={"login": login})).json()
        assert got["answer"]["Balance"] == "0.10"


@pytest.mark.parametrize("path", ["/api/user/get", "/api/trade/balance"])
async def test_calls_before_authentication_get_retcode_8(emulator: Emulator, path: str) -> None:
    async with raw_client(emulator) as client:
        answer = (await client.get(path, params={"login": 1})).json()
        assert answer["retcode"].startswith("8 ")


async def test_unknown_endpoint_is_404(emulator: Emulator) -> None:
    async with raw_client(emulator) as client:
        response = await client.get("/api/no/such")
        assert response.status_code == 404
        assert isinstance(response, httpx.Response)

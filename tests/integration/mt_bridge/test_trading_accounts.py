"""Trading accounts and products through the outbox against the emulator: demo and live opening,
approval, leverage changes, password resets, and the product catalogue's rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import PermissionDeniedError
from mt_bridge import accounts, products
from mt_bridge.errors import AccountRequestError, InvalidProductError
from mt_bridge.models import (
    Command,
    CommandKind,
    CommandStatus,
    TradingAccount,
    TradingAccountStatus,
    TradingServer,
)
from mt_bridge.records import PasswordKind
from mt_bridge.sync import sync_server
from tests.integration.mt_bridge.bridge_setup import FAST_SYNC, Crm, allow_everyone


async def refuse_everyone(session: AsyncSession, client_id: int) -> None:
    raise PermissionDeniedError("KYC level too low for a live account")


async def load(crm: Crm, account_id: int) -> TradingAccount:
    async with crm.db.session() as session:
        account = await session.get(TradingAccount, account_id)
        assert account is not None
        return account


async def test_a_demo_account_opens_at_once_with_demo_funds_and_outside_the_ledger(crm: Crm) -> None:
    async with crm.db.transaction() as session:
        opened = await accounts.request_account(
            session, crm.box, client_id=9, account_type_id=crm.demo_type_id, name="Demo Trader", leverage=500,
            kyc_check=refuse_everyone,
        )  # fmt: skip
    await crm.run_outbox()
    account = await load(crm, opened.account.id)
    assert account.status is TradingAccountStatus.ACTIVE
    assert account.login == 500000 + opened.command.id
    user = crm.emulator.server.user(account.login)
    assert user.balance == Decimal("10000.00")
    assert user.password_main == opened.main_password
    assert account.ledger_account_id is None
    await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    async with crm.db.session() as session:
        [listed] = await accounts.list_accounts(session, 9)
    assert (listed.balance, listed.equity, listed.margin_free) == (1_000_000, 1_000_000, 1_000_000)


async def test_a_live_account_needs_kyc_and_approval_when_its_type_asks(crm: Crm) -> None:
    with pytest.raises(PermissionDeniedError):
        async with crm.db.transaction() as session:
            await accounts.request_account(
                session, crm.box, client_id=3, account_type_id=crm.live_type_id, name="No KYC", leverage=100,
                kyc_check=refuse_everyone,
            )  # fmt: skip
    async with crm.db.session() as session:
        assert list(await session.scalars(select(TradingAccount))) == []

    async with crm.db.transaction() as session:
        opened = await accounts.request_account(
            session, crm.box, client_id=4, account_type_id=crm.approval_type_id, name="Pro", leverage=200,
            kyc_check=allow_everyone,
        )  # fmt: skip
    await crm.run_outbox()
    assert (await load(crm, opened.account.id)).status is TradingAccountStatus.AWAITING_APPROVAL
    assert crm.emulator.server.users == {}
    async with crm.db.transaction() as session:
        await accounts.approve_command(session, opened.command.id, staff_id=77)
    await crm.run_outbox()
    account = await load(crm, opened.account.id)
    assert account.status is TradingAccountStatus.ACTIVE
    assert account.ledger_account_id is not None
    assert crm.emulator.server.user(account.login).leverage == 200
    with pytest.raises(AccountRequestError):
        async with crm.db.transaction() as session:
            await accounts.request_leverage_change(session, account.id, 300, client_id=4)


async def test_leverage_changes_and_password_resets_go_through_the_outbox(crm: Crm) -> None:
    async with crm.db.transaction() as session:
        opened = await accounts.request_account(
            session, crm.box, client_id=5, account_type_id=crm.approval_type_id, name="Pro", leverage=100,
            kyc_check=allow_everyone,
        )  # fmt: skip
        await accounts.approve_command(session, opened.command.id, staff_id=1)
    await crm.run_outbox()
    account = await load(crm, opened.account.id)
    async with crm.db.transaction() as session:
        automatic = await accounts.request_leverage_change(session, account.id, 200, client_id=5)
        needs_staff = await accounts.request_leverage_change(session, account.id, 500, client_id=5)
        reset, investor_password = await accounts.request_password_reset(
            session, crm.box, account.id, PasswordKind.INVESTOR, client_id=5
        )
    assert automatic.status is CommandStatus.PENDING
    assert needs_staff.status is CommandStatus.AWAITING_APPROVAL
    await crm.run_outbox()
    assert crm.emulator.server.user(account.login).leverage == 200
    assert crm.emulator.server.user(account.login).password_investor == investor_password
    async with crm.db.transaction() as session:
        await accounts.approve_command(session, needs_staff.id, staff_id=1)
    await crm.run_outbox()
    assert crm.emulator.server.user(account.login).leverage == 500
    assert (await load(crm, account.id)).leverage == 500
    async with crm.db.session() as session:
        done = await session.get(Command, reset.id)
        assert done is not None
        assert done.kind is CommandKind.CHANGE_PASSWORD
        assert done.status is CommandStatus.DONE
        assert done.secret_sealed is None
    with pytest.raises(AccountRequestError):
        async with crm.db.transaction() as session:
            await accounts.request_password_reset(session, crm.box, account.id, PasswordKind.API, client_id=5)


async def test_product_rules_and_sealed_credentials(crm: Crm) -> None:
    async with crm.db.transaction() as session:
        server = await session.get(TradingServer, crm.server_id)
        assert server is not None
        assert b"Manager1!" not in server.manager_password_sealed
        group = await products.add_group(
            session, crm.server_id, name="real\\eur", currency="EUR", leverage_max=100
        )
        with pytest.raises(InvalidProductError):
            await products.add_account_type(
                session, code="x", name="X", group_id=group.id, leverage_options=[200]
            )
        with pytest.raises(InvalidProductError):
            await products.add_symbol(
                session, name="GOLD", contract_size=Decimal(100), digits=2, aliases=["XAUUSD.m"]
            )
        metals = await products.add_symbol_group(session, "metals")
        await products.add_symbol(
            session,
            name="XAGUSD",
            contract_size=Decimal(5000),
            digits=3,
            aliases=["SILVER"],
            symbol_group_id=metals.id,
        )
    aliases = await products.alias_table(crm.db)
    assert aliases.normalise("SILVER") == "XAGUSD"
    assert aliases.normalise("XAUUSD.m") == "XAUUSD"
    access = await crm.directory.access(crm.server_id)
    assert access.manager_password == "Manager1!"

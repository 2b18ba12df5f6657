"""Where the money of a balance operation comes from, and an MT4 server through the whole CRM."""

from __future__ import annotations

from ledger.chart import Purpose, ensure_system_accounts, open_owner_account
from ledger.posting import post
from ledger.reading import get_balances
from ledger.requests import Journal, posted
from mt_bridge import accounts
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.models import Platform
from mt_bridge.reconciliation import reconcile_server
from mt_bridge.sync import sync_server
from tests.integration.mt_bridge.bridge_setup import FAST_SYNC, Crm, build_crm


async def test_a_transfer_from_the_wallet_is_posted_against_the_wallet(crm: Crm) -> None:
    [account] = await crm.open_live_accounts(1, deposit=100_00)
    async with crm.db.transaction() as session:
        wallet = await open_owner_account(session, Purpose.CLIENT_WALLET, "client:1", "USD")
        bank = (await ensure_system_accounts(session, "USD"))[Purpose.BANK]
    [funded] = await post(
        crm.db, [Journal([posted("fund:1", debit=bank, credit=wallet, amount=1_000_00, currency="USD")])]
    )
    assert funded.ok
    async with crm.db.transaction() as session:
        await accounts.request_balance_operation(
            session,
            account.id,
            300_00,
            request_key="wallet-to-mt:1",
            comment="from wallet",
            counter_account_id=wallet,
        )
    await crm.run_outbox()
    await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    balances = await get_balances(crm.db, [wallet])
    assert balances[wallet].posted == 700_00
    assert await crm.ledger_balances() == {account.login: 400_00}
    assert await crm.suspense_balance() == -100_00
    assert (
        await reconcile_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    ).differences == []


async def test_an_mt4_server_opens_accounts_moves_money_and_syncs(db, crm_emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    crm = await build_crm(db, crm_emulator, Platform.MT4)
    try:
        opened = await crm.open_live_accounts(3, deposit=20_000_00)
        logins = [a.login for a in opened if a.login is not None]
        assert len(logins) == 3
        made = crm.emulator.simulator.run(80)
        assert made
        await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
        assert await crm.ledger_balances() == crm.server_balances(logins)
        outcome = await reconcile_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
        assert outcome.compared == 3
        assert outcome.differences == []
    finally:
        await crm.directory.close()

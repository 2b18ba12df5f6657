"""Transfers between the wallet and MT5 trading accounts on the emulator over a real socket: each
ledger step is tied to its outbox command; a crash after posting, a dropped answer, and a server
refusal all end complete or unwound, and the ledger then equals the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cashier import internal_transfers
from cashier.errors import InsufficientFundsError, InvalidStateError, NotFoundError
from cashier.models import TransferKind
from cashier.wallets import client_wallets
from core import jobs
from core.db import Database
from core.storage import EncryptedFileStore
from mt_bridge.emulator.config import FaultConfig, load_config
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.models import TradingAccount
from mt_bridge.reconciliation import reconcile_server
from mt_bridge.retcodes import Retcode
from mt_bridge.sync import sync_server
from tests.integration.cashier.conftest import CLIENT, assert_books_balanced, fund_by_wire
from tests.integration.mt_bridge.bridge_setup import FAST_SYNC, Crm, build_crm

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def crm(db: Database, sent_jobs: list[jobs.Job]) -> AsyncIterator[Crm]:
    emulator = Emulator(load_config(), tls=False)
    await emulator.start("127.0.0.1", 0)
    built = await build_crm(db, emulator)
    yield built
    await built.directory.close()
    await emulator.stop()


async def open_accounts(crm: Crm, count: int = 2) -> list[TradingAccount]:
    """Live accounts of client 1 (the CRM helper opens one per client id; give them all to client 1)."""
    opened = await crm.open_live_accounts(count)
    async with crm.db.transaction() as session:
        for account in opened:
            row = await session.get(TradingAccount, account.id)
            assert row is not None
            row.client_id = 1
    return opened


async def wallet(db: Database) -> tuple[int, int]:
    found = [w for w in await client_wallets(db, 1) if w.currency == "USD"]
    return (found[0].balance.posted, found[0].balance.available) if found else (0, 0)


async def ask(db: Database, kind: TransferKind, amount: int, key: str, **accounts: int):  # type: ignore[no-untyped-def]
    return await internal_transfers.request_transfer(
        db, client_id=1, kind=kind, amount=amount, idempotency_key=key, actor=CLIENT, **accounts
    )


async def settle_and_sync(crm: Crm) -> None:
    for _ in range(3):
        await crm.run_outbox()
        await internal_transfers.settle_transfers(crm.db)
    await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)


async def test_wallet_to_trading_and_back_and_between_accounts(crm: Crm, tmp_path: Path) -> None:
    first, second = await open_accounts(crm)
    await fund_by_wire(crm.db, EncryptedFileStore(tmp_path, b"k" * 32), 1, 100_000)
    deposit = await ask(
        crm.db, TransferKind.TO_TRADING, 60_000, "to-trading-0001", to_trading_account_id=first.id
    )
    again = await ask(
        crm.db, TransferKind.TO_TRADING, 60_000, "to-trading-0001", to_trading_account_id=first.id
    )
    assert again.id == deposit.id
    assert await wallet(crm.db) == (40_000, 40_000)  # left the wallet at once, exactly once
    await settle_and_sync(crm)
    assert crm.server_balances([first.login or 0]) == {first.login: 60_000}

    back = await ask(
        crm.db, TransferKind.FROM_TRADING, 10_000, "from-trading-01", from_trading_account_id=first.id
    )
    between = await ask(
        crm.db,
        TransferKind.BETWEEN_TRADING,
        20_000,
        "between-acc-01",
        from_trading_account_id=first.id,
        to_trading_account_id=second.id,
    )
    await settle_and_sync(crm)
    await settle_and_sync(crm)
    statuses = {t.id: t.status for t in await internal_transfers_list(crm.db)}
    assert statuses == {deposit.id: "done", back.id: "done", between.id: "done"}
    assert await wallet(crm.db) == (50_000, 50_000)
    expected = {first.login: 30_000, second.login: 20_000}
    assert crm.server_balances(list(expected)) == expected
    assert await crm.ledger_balances() == expected
    assert await crm.suspense_balance() == 0
    outcome = await reconcile_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    assert outcome.differences == []
    await assert_books_balanced(crm.db)


async def internal_transfers_list(db: Database):  # type: ignore[no-untyped-def]
    from cashier.conversions import transfer_queue

    return await transfer_queue(db, 1)


async def test_crash_after_posting_then_a_dropped_answer_completes_exactly_once(
    crm: Crm, tmp_path: Path
) -> None:
    (account,) = await open_accounts(crm, 1)
    await fund_by_wire(crm.db, EncryptedFileStore(tmp_path, b"k" * 32), 1, 50_000)
    transfer = await ask(
        crm.db, TransferKind.TO_TRADING, 30_000, "crash-transfer-1", to_trading_account_id=account.id
    )
    # the process "crashes" here: the ledger side and the command are committed, nothing was sent
    assert await wallet(crm.db) == (20_000, 20_000)
    assert crm.server_balances([account.login or 0]) == {account.login: 0}
    # after the restart the server applies the operation but the answer is lost on the way back
    crm.emulator.faults.configure(FaultConfig(drop_after_apply_rate=1.0, endpoints=("/api/trade/balance",)))
    await settle_and_sync(crm)
    commands = [c for c in await crm.commands() if c.id == transfer.command_id]
    assert commands[0].status == "done"
    assert (commands[0].result or {}).get("found_on_server")  # looked up, not sent twice
    tagged = [
        d for d in crm.emulator.server.deals.values() if d.comment.startswith(f"BD#{transfer.command_id}")
    ]
    assert len(tagged) == 1
    assert crm.server_balances([account.login or 0]) == {account.login: 30_000}
    assert await crm.ledger_balances() == {account.login: 30_000}
    assert await crm.suspense_balance() == 0
    await assert_books_balanced(crm.db)


async def test_server_refusals_unwind_or_fail_without_losing_money(crm: Crm, tmp_path: Path) -> None:
    (account,) = await open_accounts(crm, 1)
    await fund_by_wire(crm.db, EncryptedFileStore(tmp_path, b"k" * 32), 1, 50_000)
    crm.emulator.faults.configure(
        FaultConfig(error_rate=1.0, error_retcode=Retcode.ERR_PARAMS, endpoints=("/api/trade/balance",))
    )
    refused = await ask(
        crm.db, TransferKind.TO_TRADING, 30_000, "refused-transfer", to_trading_account_id=account.id
    )
    assert await wallet(crm.db) == (20_000, 20_000)
    await settle_and_sync(crm)
    crm.emulator.faults.configure(FaultConfig())
    too_much = await ask(
        crm.db, TransferKind.FROM_TRADING, 1_000, "more-than-margin", from_trading_account_id=account.id
    )
    await settle_and_sync(crm)
    statuses = {t.id: t.status for t in await internal_transfers_list(crm.db)}
    assert statuses == {refused.id: "unwound", too_much.id: "failed"}
    assert await wallet(crm.db) == (50_000, 50_000)  # the refused deposit came back
    assert crm.server_balances([account.login or 0]) == {account.login: 0}
    assert await crm.suspense_balance() == 0
    await assert_books_balanced(crm.db)


async def test_checks_before_anything_moves(crm: Crm, tmp_path: Path) -> None:
    (account,) = await open_accounts(crm, 1)
    await fund_by_wire(crm.db, EncryptedFileStore(tmp_path, b"k" * 32), 1, 5_000)
    with pytest.raises(InsufficientFundsError):
        await ask(crm.db, TransferKind.TO_TRADING, 6_000, "too-much-00001", to_trading_account_id=account.id)
    with pytest.raises(NotFoundError):
        await internal_transfers.request_transfer(
            crm.db,
            client_id=2,
            kind=TransferKind.TO_TRADING,
            amount=100,
            idempotency_key="not-mine-0001",
            actor=CLIENT,
            to_trading_account_id=account.id,
        )
    with pytest.raises(InvalidStateError):
        await ask(
            crm.db,
            TransferKind.BETWEEN_TRADING,
            100,
            "same-account-01",
            from_trading_account_id=account.id,
            to_trading_account_id=account.id,
        )
    assert await wallet(crm.db) == (5_000, 5_000)
    assert await internal_transfers_list(crm.db) == []


async def test_portal_transfer_to_a_trading_account(
    crm: Crm, tmp_path: Path, settings: object, portal_client: object
) -> None:
    from litestar.testing import AsyncTestClient

    from tests.helpers import client_sign_in, make_client
    from tests.integration.cashier.web import post_form

    assert isinstance(portal_client, AsyncTestClient)
    client_id = await make_client(crm.db, settings, "trader@example.test")
    (account,) = await crm.open_live_accounts(1)
    async with crm.db.transaction() as session:
        row = await session.get(TradingAccount, account.id)
        assert row is not None
        row.client_id = client_id
    await fund_by_wire(crm.db, EncryptedFileStore(tmp_path, b"k" * 32), client_id, 25_000)
    await client_sign_in(portal_client, "trader@example.test")
    page = (await portal_client.get("/funding")).text
    assert f'class="trading-account" data-id="{account.id}"' in page
    refused = await post_form(
        portal_client,
        "/funding/transfer",
        "/funding/transfer",
        {"from": "wallet", "to": f"account:{account.id}", "amount": "500.00"},
    )
    assert refused.status_code == 400
    assert "available balance is not enough" in refused.text
    sent = await post_form(
        portal_client,
        "/funding/transfer",
        "/funding/transfer",
        {"from": "wallet", "to": f"account:{account.id}", "amount": "100.00"},
    )
    assert sent.status_code == 303
    assert 'data-kind="to_trading" data-status="sent"' in (await portal_client.get("/funding")).text
    await settle_and_sync(crm)
    page = (await portal_client.get("/funding")).text
    assert 'data-kind="to_trading" data-status="done"' in page
    assert crm.server_balances([account.login or 0]) == {account.login: 10_000}
    assert await crm.ledger_balances() == {account.login: 10_000}

"""Deposit fees set in the settings store are taken when a deposit is credited: a second transfer
in the credit's journal, from the wallet to the house's fee revenue, keyed by the deposit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cashier import deposits
from cashier.fees import FEES_KEY
from cashier.gates import Gates
from cashier.models import Deposit
from cashier.psp.sandbox import PspSandbox
from cashier.psp.sandbox_client import SandboxPsp
from cashier.wallets import house_accounts
from core.audit.service import SYSTEM
from core.clock import utcnow
from core.config_store import write_setting
from core.db import Database
from core.storage import EncryptedFileStore
from ledger.chart import Purpose
from ledger.models import Transfer
from ledger.reading import get_balances
from tests.integration.cashier.conftest import CLIENT, FINANCE, PDF, assert_books_balanced
from tests.integration.cashier.test_deposits import decide, open_payment, wallet_balance

pytestmark = pytest.mark.asyncio
BOB = 777


async def set_fees(db: Database, rules: dict[str, dict[str, int]]) -> None:
    async with db.transaction() as session:
        await write_setting(session, FEES_KEY, {"USD": rules}, SYSTEM, expected_version=None, before={})


async def fee_revenue(db: Database) -> int:
    async with db.transaction() as session:
        house = await house_accounts(session, "USD")
    return (await get_balances(db, [house[Purpose.FEES_REVENUE]]))[house[Purpose.FEES_REVENUE]].posted


async def test_wire_deposit_pays_its_fee_once(db: Database, store: EncryptedFileStore) -> None:
    await set_fees(db, {"deposit_wire": {"fixed": 100, "bps": 150}, "deposit_psp": {"fixed": 0, "bps": 0}})
    wire = await deposits.submit_wire_deposit(
        db, store, Gates(), client_id=BOB, currency="USD", amount=20_001, proof=PDF,
        max_bytes=1024 * 1024, idempotency_key="fee-wire-0001", actor=CLIENT,
    )  # fmt: skip
    credited = await deposits.approve_wire_deposit(db, wire.id, 20_001, FINANCE)
    # 1.00 fixed + 1.5 % of 200.01 = 3.00015, rounded up to 3.01: 1.00 + 3.01 = 4.01
    assert credited.fee_amount == 401
    assert await wallet_balance(db, BOB) == (20_001 - 401, 20_001 - 401)
    assert await fee_revenue(db) == 401
    async with db.session() as session:
        fee = await session.scalar(
            select(Transfer).where(Transfer.idempotency_key == deposits.fee_key(wire.id))
        )
    assert fee is not None
    assert (fee.amount, fee.code) == (401, "deposit_wire_fee")
    await assert_books_balanced(db)


async def test_psp_deposit_fee_and_a_fee_capped_at_the_amount(
    db: Database, sandbox: tuple[PspSandbox, SandboxPsp], store: EncryptedFileStore
) -> None:
    psp_sandbox, psp = sandbox
    await set_fees(db, {"deposit_psp": {"fixed": 0, "bps": 200}, "deposit_wire": {"fixed": 5_000, "bps": 0}})
    deposit = await open_payment(db, psp, amount=25_000, key="fee-psp-0001")
    await decide(psp_sandbox, psp, deposit.psp_payment_id or "", "approve")
    headers, body = psp_sandbox.webhook(
        psp_sandbox.payments[deposit.psp_payment_id or ""], "payment.succeeded"
    )
    assert (await deposits.receive_webhook(db, psp, headers, body, utcnow())).outcome == "credited"
    async with db.session() as session:
        credited = await session.get_one(Deposit, deposit.id)
    assert credited.fee_amount == 500  # 2 % of 250.00
    assert (await wallet_balance(db, 501))[0] == 24_500

    tiny = await deposits.submit_wire_deposit(
        db, store, Gates(), client_id=BOB, currency="USD", amount=1_000, proof=PDF,
        max_bytes=1024 * 1024, idempotency_key="fee-wire-tiny", actor=CLIENT,
    )  # fmt: skip
    approved = await deposits.approve_wire_deposit(db, tiny.id, 1_000, FINANCE)
    assert approved.fee_amount == 1_000  # a 50.00 fee on 10.00 takes the 10.00, never more
    assert await wallet_balance(db, BOB) == (0, 0)
    assert await fee_revenue(db) == 1_500
    await assert_books_balanced(db)

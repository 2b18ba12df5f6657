"""Fees set in the settings store are charged through the ledger's posting path: a deposit fee is
a second transfer in the credit's journal (wallet -> fee revenue, keyed by the deposit); a
withdrawal fee is a pending transfer reserved with the amount, posted on payout and voided on a
rejection, each with its own idempotency key."""

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
    credited = await deposits.approve_wire_deposit(db, wire.id, 20_001, FINANCE, gates=Gates())
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
    approved = await deposits.approve_wire_deposit(db, tiny.id, 1_000, FINANCE, gates=Gates())
    assert approved.fee_amount == 1_000  # a 50.00 fee on 10.00 takes the 10.00, never more
    assert await wallet_balance(db, BOB) == (0, 0)
    assert await fee_revenue(db) == 1_500
    await assert_books_balanced(db)


async def test_withdrawal_fee_is_reserved_taken_on_payout_and_released_on_rejection(
    db: Database, store: EncryptedFileStore
) -> None:
    from cashier import bank_accounts, withdrawals
    from cashier.errors import InsufficientFundsError
    from cashier.models import DestinationKind
    from cashier.withdrawals import Destination
    from tests.integration.cashier.conftest import POLICY, fund_by_wire

    await fund_by_wire(db, store, BOB, 10_000)
    account = await bank_accounts.add_bank_account(
        db,
        client_id=BOB,
        holder_name="Bob Example",
        country="GB",
        number="GB82WEST12345698765432",
        bic="WESTGB2L",
        bank_name="West",
        currency="USD",
        actor=CLIENT,
    )
    await bank_accounts.verify_bank_account(db, account.id, FINANCE)
    await set_fees(db, {"withdrawal_bank": {"fixed": 200, "bps": 100}})
    to_bank = Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account.id)

    async def request(amount: int, key: str):  # type: ignore[no-untyped-def]
        return await withdrawals.request_withdrawal(
            db, Gates(), POLICY, client_id=BOB, currency="USD", amount=amount, destination=to_bank,
            idempotency_key=key, actor=CLIENT,
        )  # fmt: skip

    with pytest.raises(InsufficientFundsError, match="and its fee"):
        await request(9_850, "fee-wd-too-much")  # 98.50 + 2.00 + 0.99 > 100.00
    first = await request(5_000, "fee-wd-first-1")
    assert first.fee_amount == 250  # 2.00 + 1 % of 50.00
    assert await wallet_balance(db, BOB) == (10_000, 10_000 - 5_250)
    rejected = await withdrawals.reject_withdrawal(db, first.id, "wrong account", FINANCE)
    assert rejected.status == "rejected"
    assert await wallet_balance(db, BOB) == (10_000, 10_000)  # the fee is released with the amount

    second = await request(3_001, "fee-wd-second")
    assert second.fee_amount == 200 + 31  # 1 % of 30.01 is 0.3001, rounded up to 0.31
    await withdrawals.approve_withdrawal(db, second.id, POLICY, FINANCE)
    paid = await withdrawals.mark_paid_by_wire(db, second.id, "WIRE-42", FINANCE)
    assert paid.status == "paid"
    assert await wallet_balance(db, BOB) == (10_000 - 3_232, 10_000 - 3_232)
    assert await fee_revenue(db) == 231
    await assert_books_balanced(db)

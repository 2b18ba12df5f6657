"""Withdrawals on the real database: the hold at request, the checks, four eyes, payout, voids."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from cashier import bank_accounts, deposits, withdrawals
from cashier.errors import (
    ChargebackOpenError,
    DestinationError,
    InsufficientFundsError,
    InvalidStateError,
    LimitExceededError,
    NotAllowedError,
    NotFoundError,
    SameApproverError,
)
from cashier.gates import Gates
from cashier.models import DestinationKind, Withdrawal
from cashier.psp.sandbox import PspSandbox
from cashier.psp.sandbox_client import SandboxPsp
from cashier.wallets import client_wallets, house_accounts
from cashier.withdrawals import Destination
from core.audit.models import AuditEvent
from core.clock import utcnow
from core.db import Database
from core.storage import EncryptedFileStore
from ledger.chart import Purpose
from ledger.reading import get_balance
from tests.integration.cashier.conftest import (
    CLIENT,
    FINANCE,
    POLICY,
    SECOND_FINANCE,
    assert_books_balanced,
    fund_by_wire,
)

pytestmark = pytest.mark.asyncio
BOB = 601
MALLORY = 602
IBAN = "GB82 WEST 1234 5698 7654 32"


async def balances(db: Database, client_id: int = BOB) -> tuple[int, int]:
    wallet = next(w for w in await client_wallets(db, client_id) if w.currency == "USD")
    return wallet.balance.posted, wallet.balance.available


async def verified_account(db: Database, client_id: int = BOB) -> int:
    account = await bank_accounts.add_bank_account(
        db,
        client_id=client_id,
        holder_name="Bob Example",
        country="GB",
        number=IBAN,
        bic="WESTGB2L",
        bank_name="West Bank",
        currency="USD",
        actor=CLIENT,
    )
    await bank_accounts.verify_bank_account(db, account.id, FINANCE)
    return account.id


async def ask(
    db: Database,
    amount: int,
    key: str,
    destination: Destination,
    gates: Gates | None = None,
    client_id: int = BOB,
) -> Withdrawal:
    return await withdrawals.request_withdrawal(
        db,
        gates or Gates(),
        POLICY,
        client_id=client_id,
        currency="USD",
        amount=amount,
        destination=destination,
        idempotency_key=key,
        actor=CLIENT,
    )


def to_bank(account_id: int) -> Destination:
    return Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account_id)


async def test_request_reserves_and_rejection_releases(db: Database, store: EncryptedFileStore) -> None:
    await fund_by_wire(db, store, BOB, 300_000)
    account = await verified_account(db)
    withdrawal = await ask(db, 50_000, "wd-key-00001", to_bank(account))
    assert withdrawal.status == "pending_approval"
    assert withdrawal.hold_transfer_id
    assert await balances(db) == (300_000, 250_000)  # reserved, not moved
    again = await ask(db, 50_000, "wd-key-00001", to_bank(account))
    assert again.id == withdrawal.id
    assert await balances(db) == (300_000, 250_000)  # the retry reserved nothing more

    with pytest.raises(InvalidStateError):
        await withdrawals.reject_withdrawal(db, withdrawal.id, "", FINANCE)
    rejected = await withdrawals.reject_withdrawal(db, withdrawal.id, "Name does not match", FINANCE)
    assert rejected.status == "rejected"
    assert await balances(db) == (300_000, 300_000)
    with pytest.raises(InvalidStateError):
        await withdrawals.approve_withdrawal(db, withdrawal.id, POLICY, FINANCE)
    await assert_books_balanced(db)


async def test_client_cancels_only_their_own_before_approval(db: Database, store: EncryptedFileStore) -> None:
    await fund_by_wire(db, store, BOB, 300_000)
    withdrawal = await ask(db, 20_000, "wd-key-00002", to_bank(await verified_account(db)))
    with pytest.raises(NotFoundError):
        await withdrawals.cancel_withdrawal(db, withdrawal.id, MALLORY, CLIENT)
    cancelled = await withdrawals.cancel_withdrawal(db, withdrawal.id, BOB, CLIENT)
    assert cancelled.status == "cancelled"
    assert await balances(db) == (300_000, 300_000)


async def test_four_eyes_then_paid_by_wire(db: Database, store: EncryptedFileStore) -> None:
    await fund_by_wire(db, store, BOB, 300_000)
    withdrawal = await ask(db, 150_000, "wd-key-00003", to_bank(await verified_account(db)))
    first = await withdrawals.approve_withdrawal(db, withdrawal.id, POLICY, FINANCE)
    assert first.status == "awaiting_second_approval"
    with pytest.raises(SameApproverError):
        await withdrawals.approve_withdrawal(db, withdrawal.id, POLICY, FINANCE)
    with pytest.raises(InvalidStateError):
        await withdrawals.mark_paid_by_wire(db, withdrawal.id, "BANKREF-1", FINANCE)
    second = await withdrawals.approve_withdrawal(db, withdrawal.id, POLICY, SECOND_FINANCE)
    assert (second.status, second.first_approver_id, second.second_approver_id) == ("approved", 9001, 9002)
    assert await balances(db) == (300_000, 150_000)
    paid = await withdrawals.mark_paid_by_wire(db, withdrawal.id, "BANKREF-1", FINANCE)
    assert (paid.status, paid.payout_reference) == ("paid", "BANKREF-1")
    assert await balances(db) == (150_000, 150_000)
    async with db.session() as session:
        house = await house_accounts(session, "USD")
    assert (await get_balance(db, house[Purpose.WITHDRAWALS_IN_TRANSIT])).posted == 0
    assert (await get_balance(db, house[Purpose.BANK])).posted == 300_000 - 150_000
    with pytest.raises(InvalidStateError):
        await withdrawals.reject_withdrawal(db, withdrawal.id, "too late", FINANCE)
    async with db.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target_type == "withdrawal")
                .order_by(AuditEvent.id)
            )
        )
    assert actions == [
        "cashier.withdrawal_requested",
        "cashier.withdrawal_approved",
        "cashier.withdrawal_approved",
        "cashier.withdrawal_paid",
    ]
    await assert_books_balanced(db)


async def test_below_threshold_one_approval_then_psp_payout(
    db: Database, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    psp_sandbox, psp = sandbox
    deposit = await deposits.start_psp_deposit(
        db,
        psp,
        Gates(),
        client_id=BOB,
        currency="USD",
        amount=80_000,
        idempotency_key="dep-key-00001",
        actor=CLIENT,
        return_url="",
        callback_url="http://127.0.0.1:9/x",
    )
    async with httpx.AsyncClient(base_url=psp.base_url) as http:
        await http.post(f"/v1/payments/{deposit.psp_payment_id}/decision", json={"decision": "approve"})
    assert await deposits.poll_deposit(db, psp, deposit.id) == "credited"

    withdrawal = await ask(db, 30_000, "wd-key-00004", Destination(DestinationKind.PSP, psp="sandbox"))
    approved = await withdrawals.approve_withdrawal(db, withdrawal.id, POLICY, FINANCE)
    assert approved.status == "approved"
    paid = await withdrawals.pay_via_psp(db, psp, withdrawal.id, FINANCE)
    assert paid.status == "paid"
    assert paid.payout_reference
    assert list(psp_sandbox.payouts) == [f"wd-{withdrawal.id}"]
    with pytest.raises(InvalidStateError):
        await withdrawals.pay_via_psp(db, psp, withdrawal.id, FINANCE)
    assert await balances(db) == (50_000, 50_000)
    async with db.session() as session:
        house = await house_accounts(session, "USD", "sandbox")
    assert (await get_balance(db, house.psp_clearing["sandbox"])).posted == 80_000 - 30_000
    await assert_books_balanced(db)


async def test_psp_outage_leaves_the_withdrawal_approved_and_the_money_reserved(
    db: Database, store: EncryptedFileStore, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    _psp_sandbox, psp = sandbox
    await fund_by_wire(db, store, BOB, 100_000)
    async with db.transaction() as session:  # a PSP deposit on record makes the PSP a valid destination
        from cashier.models import Deposit

        session.add(
            Deposit(
                client_id=BOB,
                method="psp",
                psp="sandbox",
                currency="USD",
                amount=1,
                status="credited",
                idempotency_key="seeded-psp-deposit",
            )
        )
    withdrawal = await ask(db, 10_000, "wd-key-00005", Destination(DestinationKind.PSP, psp="sandbox"))
    await withdrawals.approve_withdrawal(db, withdrawal.id, POLICY, FINANCE)
    down = SandboxPsp("http://127.0.0.1:9", "x")
    down.name = "sandbox"
    from cashier.errors import PaymentProviderError

    with pytest.raises(PaymentProviderError):
        await withdrawals.pay_via_psp(db, down, withdrawal.id, FINANCE)
    async with db.session() as session:
        assert (await session.get_one(Withdrawal, withdrawal.id)).status == "approved"
    assert await balances(db) == (100_000, 90_000)
    assert (await withdrawals.pay_via_psp(db, psp, withdrawal.id, FINANCE)).status == "paid"


async def test_checks_refuse_before_anything_is_reserved(db: Database, store: EncryptedFileStore) -> None:
    await fund_by_wire(db, store, BOB, 600_000)
    account = await verified_account(db)

    async def kyc_not_full(_session: object, _client_id: int) -> None:
        raise NotAllowedError("Verify your identity before withdrawing.")

    with pytest.raises(NotAllowedError):
        await ask(db, 1_000, "wd-key-10001", to_bank(account), Gates(withdrawal=kyc_not_full))  # type: ignore[arg-type]
    with pytest.raises(LimitExceededError):
        await ask(db, 500_001, "wd-key-10002", to_bank(account))
    await ask(db, 450_000, "wd-key-10003", to_bank(account))
    with pytest.raises(LimitExceededError):  # daily: 450k + 400k > 800k
        await ask(db, 400_000, "wd-key-10004", to_bank(account))
    with pytest.raises(InsufficientFundsError):
        await ask(db, 200_000, "wd-key-10005", to_bank(account))

    unverified = await bank_accounts.add_bank_account(
        db,
        client_id=BOB,
        holder_name="Bob Example",
        country="DE",
        number="DE89 3704 0044 0532 0130 00",
        bic="COBADEFFXXX",
        bank_name="Commerzbank",
        currency="USD",
        actor=CLIENT,
    )
    with pytest.raises(DestinationError, match="not verified"):
        await ask(db, 1_000, "wd-key-10006", to_bank(unverified.id))
    someone_elses = await verified_account(db, MALLORY)
    with pytest.raises(DestinationError):
        await ask(db, 1_000, "wd-key-10007", to_bank(someone_elses))
    with pytest.raises(DestinationError, match="deposited with"):
        await ask(db, 1_000, "wd-key-10008", Destination(DestinationKind.PSP, psp="sandbox"))
    async with db.session() as session:
        count = await session.scalar(select(func.count()).select_from(Withdrawal))
    assert count == 1
    assert await balances(db) == (600_000, 150_000)


async def test_open_chargeback_blocks_withdrawals(db: Database, store: EncryptedFileStore) -> None:
    await fund_by_wire(db, store, BOB, 100_000)
    account = await verified_account(db)
    async with db.transaction() as session:
        from cashier.models import Deposit

        session.add(
            Deposit(
                client_id=BOB,
                method="psp",
                psp="sandbox",
                currency="USD",
                amount=5_000,
                status="credited",
                idempotency_key="disputed-dep",
                chargeback_open=True,
            )
        )
    with pytest.raises(ChargebackOpenError):
        await ask(db, 1_000, "wd-key-20001", to_bank(account))


async def test_overdue_requests_are_flagged_once(db: Database, store: EncryptedFileStore) -> None:
    await fund_by_wire(db, store, BOB, 100_000)
    account = await verified_account(db)
    old = await ask(db, 1_000, "wd-key-30001", to_bank(account))
    fresh = await ask(db, 1_000, "wd-key-30002", to_bank(account))
    async with db.transaction() as session:
        row = await session.get_one(Withdrawal, old.id)
        row.due_at = utcnow() - timedelta(hours=1)
    assert await withdrawals.flag_overdue(db) == 1
    assert await withdrawals.flag_overdue(db) == 0
    async with db.session() as session:
        assert (await session.get_one(Withdrawal, old.id)).flagged_at is not None
        assert (await session.get_one(Withdrawal, fresh.id)).flagged_at is None

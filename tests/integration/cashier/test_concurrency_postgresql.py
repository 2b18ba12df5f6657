"""Real parallel transactions on PostgreSQL: withdrawals racing for one wallet, a webhook delivered
many times at once, and a run of mixed operations that must leave the books balanced.

SQLite has one writer at a time, so these races can't happen there; the module runs on the
PostgreSQL pass of the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from cashier import bank_accounts, deposits, withdrawals
from cashier.errors import CashierError, InsufficientFundsError
from cashier.gates import Gates
from cashier.models import Deposit, DestinationKind, Withdrawal
from cashier.psp.sandbox import PspSandbox
from cashier.psp.sandbox_client import SandboxPsp
from cashier.wallets import client_wallets
from cashier.withdrawals import Destination
from core.audit.service import Actor
from core.clock import utcnow
from core.db import Database
from core.storage import EncryptedFileStore
from ledger.models import Transfer
from tests.conftest import BACKEND
from tests.integration.cashier.conftest import (
    CLIENT,
    FINANCE,
    POLICY,
    SECOND_FINANCE,
    assert_books_balanced,
    declare_wire,
    fund_by_wire,
)

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]
CAROL = 701


@pytest.fixture
async def wide_db(database_url: str) -> AsyncIterator[Database]:
    """A database handle with enough connections for 20+ truly parallel transactions."""
    database = Database.from_url(database_url, pool_size=30)
    yield database
    await database.dispose()


async def available(db: Database, client_id: int) -> tuple[int, int]:
    wallet = next(w for w in await client_wallets(db, client_id) if w.currency == "USD")
    return wallet.balance.posted, wallet.balance.available


async def verified(db: Database, client_id: int) -> int:
    account = await bank_accounts.add_bank_account(
        db,
        client_id=client_id,
        holder_name="Carol Example",
        country="GB",
        number="GB82WEST12345698765432",
        bic="WESTGB2L",
        bank_name="West",
        currency="USD",
        actor=CLIENT,
    )
    await bank_accounts.verify_bank_account(db, account.id, FINANCE)
    return account.id


async def test_twenty_concurrent_withdrawals_accept_only_the_affordable(
    wide_db: Database, store: EncryptedFileStore
) -> None:
    await fund_by_wire(wide_db, store, CAROL, 100_000)
    account = await verified(wide_db, CAROL)
    start = asyncio.Event()

    async def request(n: int) -> str:
        await start.wait()
        try:
            await withdrawals.request_withdrawal(
                wide_db,
                Gates(),
                POLICY,
                client_id=CAROL,
                currency="USD",
                amount=15_000,
                destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account),
                idempotency_key=f"race-withdrawal-{n:03d}",
                actor=CLIENT,
            )
        except InsufficientFundsError:
            return "refused"
        return "accepted"

    tasks = [asyncio.create_task(request(n)) for n in range(20)]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = await asyncio.gather(*tasks)
    assert outcomes.count("accepted") == 6  # 6 * 150.00 = 900.00 <= 1000.00 < 7 * 150.00
    assert outcomes.count("refused") == 14
    assert await available(wide_db, CAROL) == (100_000, 10_000)
    async with wide_db.session() as session:
        rows = await session.scalar(select(func.count()).select_from(Withdrawal))
    assert rows == 6  # refused requests left nothing behind
    await assert_books_balanced(wide_db)


async def test_same_idempotency_key_in_parallel_makes_one_withdrawal(
    wide_db: Database, store: EncryptedFileStore
) -> None:
    await fund_by_wire(wide_db, store, CAROL, 100_000)
    account = await verified(wide_db, CAROL)
    start = asyncio.Event()

    async def request() -> int:
        await start.wait()
        withdrawal = await withdrawals.request_withdrawal(
            wide_db,
            Gates(),
            POLICY,
            client_id=CAROL,
            currency="USD",
            amount=10_000,
            destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account),
            idempotency_key="one-key-for-all",
            actor=CLIENT,
        )
        return withdrawal.id

    tasks = [asyncio.create_task(request()) for _ in range(10)]
    await asyncio.sleep(0.05)
    start.set()
    ids = await asyncio.gather(*tasks)
    assert len(set(ids)) == 1
    assert await available(wide_db, CAROL) == (100_000, 90_000)


async def test_webhook_delivered_many_times_at_once_credits_once(
    wide_db: Database, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    psp_sandbox, psp = sandbox
    deposit = await deposits.start_psp_deposit(
        wide_db,
        psp,
        Gates(),
        client_id=CAROL,
        currency="USD",
        amount=42_000,
        idempotency_key="race-deposit",
        actor=CLIENT,
        return_url="",
        callback_url="http://127.0.0.1:9/x",
    )
    async with httpx.AsyncClient(base_url=psp.base_url) as http:
        await http.post(f"/v1/payments/{deposit.psp_payment_id}/decision", json={"decision": "approve"})
    headers, body = psp_sandbox.webhook(
        psp_sandbox.payments[deposit.psp_payment_id or ""], "payment.succeeded"
    )
    start = asyncio.Event()

    async def deliver() -> str:
        await start.wait()
        return (await deposits.receive_webhook(wide_db, psp, headers, body, utcnow())).outcome

    async def poll() -> str:
        await start.wait()
        return await deposits.poll_deposit(wide_db, psp, deposit.id)

    tasks = [asyncio.create_task(deliver()) for _ in range(8)] + [
        asyncio.create_task(poll()) for _ in range(4)
    ]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = await asyncio.gather(*tasks)
    assert outcomes.count("credited") == 1, outcomes
    assert set(outcomes) <= {"credited", "duplicate", "already_final"}
    assert await available(wide_db, CAROL) == (42_000, 42_000)
    async with wide_db.session() as session:
        credits = await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.code == "deposit_psp")
        )
    assert credits == 1
    await assert_books_balanced(wide_db)


async def test_mixed_operations_leave_the_trial_balance_at_zero(
    wide_db: Database, store: EncryptedFileStore, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    _psp_sandbox, psp = sandbox
    clients = [801, 802, 803, 804]
    accounts = {}
    for client in clients:
        await fund_by_wire(wide_db, store, client, 200_000, key=f"mixed-fund-{client}")
        accounts[client] = await verified(wide_db, client)

    async def life_of(client: int) -> None:
        deposit = await deposits.start_psp_deposit(
            wide_db,
            psp,
            Gates(),
            client_id=client,
            currency="USD",
            amount=30_000,
            idempotency_key=f"mixed-dep-{client}",
            actor=CLIENT,
            return_url="",
            callback_url="http://127.0.0.1:9/x",
        )
        async with httpx.AsyncClient(base_url=psp.base_url) as http:
            await http.post(f"/v1/payments/{deposit.psp_payment_id}/decision", json={"decision": "approve"})
        await deposits.poll_deposit(wide_db, psp, deposit.id)
        made = []
        for n, amount in enumerate((120_000, 90_000, 60_000, 20_000)):
            with contextlib.suppress(CashierError):
                made.append(
                    await withdrawals.request_withdrawal(
                        wide_db,
                        Gates(),
                        POLICY,
                        client_id=client,
                        currency="USD",
                        amount=amount,
                        destination=Destination(
                            DestinationKind.BANK_ACCOUNT, bank_account_id=accounts[client]
                        ),
                        idempotency_key=f"mixed-wd-{client}-{n}",
                        actor=CLIENT,
                    )
                )
        for index, withdrawal in enumerate(made):
            if index % 3 == 0:
                await withdrawals.approve_withdrawal(wide_db, withdrawal.id, POLICY, FINANCE)
                if withdrawal.amount >= POLICY.four_eyes_from:
                    await withdrawals.approve_withdrawal(wide_db, withdrawal.id, POLICY, SECOND_FINANCE)
                await withdrawals.mark_paid_by_wire(wide_db, withdrawal.id, f"REF-{withdrawal.id}", FINANCE)
            elif index % 3 == 1:
                await withdrawals.reject_withdrawal(wide_db, withdrawal.id, "test", FINANCE)
            # the rest stay pending

    await asyncio.gather(*(life_of(client) for client in clients))
    await assert_books_balanced(wide_db)
    async with wide_db.session() as session:
        credited = await session.scalar(
            select(func.count()).select_from(Deposit).where(Deposit.status == "credited")
        )
    assert credited == 2 * len(clients)
    for client in clients:
        posted, free = await available(wide_db, client)
        assert 0 <= free <= posted


async def test_parallel_requests_and_approvals_stay_within_the_kyc_limit(
    wide_db: Database, store: EncryptedFileStore
) -> None:
    """A ``basic`` client may deposit 2,000 USD in all. Ten wire requests of 500 at once: four fit.
    Then two of them arrive as 1,200 each and two finance staff credit them at once: one fits."""
    from backoffice.cashier_wiring import KYC_GATES as OFFICE_GATES
    from cashier.errors import NotAllowedError
    from kyc.models import KycLevel
    from portal.cashier_wiring import KYC_GATES as PORTAL_GATES
    from tests.integration.cashier.web import grant_kyc

    await grant_kyc(wide_db, CAROL, KycLevel.BASIC)
    start = asyncio.Event()

    async def declare(n: int) -> int | None:
        await start.wait()
        try:
            wire = await declare_wire(wide_db, store, CAROL, 50_000, f"race-wire-{n:03d}", gates=PORTAL_GATES)
        except NotAllowedError:
            return None
        return wire.id

    tasks = [asyncio.create_task(declare(n)) for n in range(10)]
    await asyncio.sleep(0.05)
    start.set()
    accepted = [wire_id for wire_id in await asyncio.gather(*tasks) if wire_id is not None]
    assert len(accepted) == 4  # 4 * 500.00 = 2,000.00, the whole limit
    for wire_id in accepted[2:]:
        await deposits.reject_wire_deposit(wide_db, wire_id, "Not received.", FINANCE)

    approvals = asyncio.Event()

    async def approve(wire_id: int, staff: Actor) -> str:
        await approvals.wait()
        try:
            await deposits.approve_wire_deposit(wide_db, wire_id, 120_000, staff, gates=OFFICE_GATES)
        except NotAllowedError:
            return "refused"
        return "credited"

    pair = [
        asyncio.create_task(approve(accepted[0], FINANCE)),
        asyncio.create_task(approve(accepted[1], SECOND_FINANCE)),
    ]
    await asyncio.sleep(0.05)
    approvals.set()
    assert sorted(await asyncio.gather(*pair)) == ["credited", "refused"]  # 1,200 + 1,200 > 2,000
    assert await available(wide_db, CAROL) == (120_000, 120_000)
    await assert_books_balanced(wide_db)


async def test_parallel_requests_in_two_currencies_stay_within_the_kyc_limit(
    wide_db: Database, store: EncryptedFileStore
) -> None:
    """The KYC limit sums every currency, so one wallet's lock is not enough: ten wires of 600 at
    once, half in USD and half in EUR (no EUR rate stored: counted at par), and three fit."""
    from cashier.errors import NotAllowedError
    from cashier.wallets import wallet_account
    from kyc.models import KycLevel
    from portal.cashier_wiring import KYC_GATES as PORTAL_GATES
    from tests.integration.cashier.web import grant_kyc

    await grant_kyc(wide_db, CAROL, KycLevel.BASIC)
    async with wide_db.transaction() as session:  # both wallets exist, as for a client who has used them
        for currency in ("USD", "EUR"):
            await wallet_account(session, CAROL, currency)
    start = asyncio.Event()

    async def declare(n: int) -> str | None:
        currency = "USD" if n % 2 else "EUR"
        await start.wait()
        try:
            await declare_wire(
                wide_db,
                store,
                CAROL,
                60_000,
                f"race-two-currencies-{n:03d}",
                currency=currency,
                gates=PORTAL_GATES,
            )
        except NotAllowedError:
            return None
        return currency

    tasks = [asyncio.create_task(declare(n)) for n in range(10)]
    await asyncio.sleep(0.05)
    start.set()
    accepted = [currency for currency in await asyncio.gather(*tasks) if currency is not None]
    assert len(accepted) == 3, accepted  # 3 * 600.00 = 1,800.00; a fourth would pass 2,000.00


async def test_wire_credits_and_wire_payouts_of_one_client_at_once_never_deadlock(
    wide_db: Database, store: EncryptedFileStore
) -> None:
    """A wire credit and a wire payout both touch the client's wallet and the house's bank account.
    Every cashier path locks the wallet first; were one to lock the bank account first, the pair
    would wait on each other and PostgreSQL would abort one of them."""
    from cashier.wallets import house_accounts

    client = 901
    async with wide_db.transaction() as session:  # older than the wallet, as on any running broker
        await house_accounts(session, "USD")
    await fund_by_wire(wide_db, store, client, 200_000, key="deadlock-fund")
    bank_account = await verified(wide_db, client)
    payouts, wires = [], []
    for n in range(8):
        withdrawal = await withdrawals.request_withdrawal(
            wide_db,
            Gates(),
            POLICY,
            client_id=client,
            currency="USD",
            amount=10_000,
            destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=bank_account),
            idempotency_key=f"deadlock-wd-{n}",
            actor=CLIENT,
        )
        await withdrawals.approve_withdrawal(wide_db, withdrawal.id, POLICY, FINANCE)
        payouts.append(withdrawal.id)
        wire = await declare_wire(wide_db, store, client, 5_000, f"deadlock-wire-{n}")
        wires.append(wire.id)
    start = asyncio.Event()

    async def pay(withdrawal_id: int) -> None:
        await start.wait()
        await withdrawals.mark_paid_by_wire(wide_db, withdrawal_id, f"REF-{withdrawal_id}", FINANCE)

    async def credit(wire_id: int) -> None:
        await start.wait()
        await deposits.approve_wire_deposit(wide_db, wire_id, 5_000, SECOND_FINANCE, gates=Gates())

    tasks = [asyncio.create_task(pay(w)) for w in payouts] + [asyncio.create_task(credit(w)) for w in wires]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert [repr(o) for o in outcomes if o is not None] == []
    assert await available(wide_db, client) == (200_000 - 8 * 10_000 + 8 * 5_000,) * 2
    await assert_books_balanced(wide_db)

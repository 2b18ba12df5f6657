"""KYC's deposit limit for ``basic`` clients (2,000 USD by default) holds however the money comes:
open requests count from the moment they are made (an unfinished card payment for a day), and a
wire is judged again by the amount that actually arrived, and by the client's KYC level, when
finance credits it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from backoffice.cashier_wiring import KYC_GATES as OFFICE_GATES
from cashier import deposits
from cashier.errors import NotAllowedError
from cashier.models import Deposit
from cashier.psp.sandbox import PspSandbox
from cashier.psp.sandbox_client import SandboxPsp
from cashier.usd import UNFINISHED_PAYMENT_COUNTS_FOR
from cashier.wallets import client_wallets
from core.audit.models import AuditEvent
from core.clock import utcnow
from core.db import Database
from core.storage import EncryptedFileStore
from kyc.models import KycLevel
from ledger.models import Transfer
from portal.cashier_wiring import KYC_GATES as PORTAL_GATES
from tests.integration.cashier.conftest import CLIENT, FINANCE, assert_books_balanced
from tests.integration.cashier.conftest import declare_wire as declare_client_wire
from tests.integration.cashier.web import grant_kyc

pytestmark = pytest.mark.asyncio
HANNA = 611


async def usd_wallet(db: Database, client_id: int = HANNA) -> tuple[int, int]:
    for wallet in await client_wallets(db, client_id):
        if wallet.currency == "USD":
            return wallet.balance.posted, wallet.balance.available
    return 0, 0


async def declare_wire(db: Database, store: EncryptedFileStore, amount: int, key: str) -> Deposit:
    """Hanna declares a wire in USD, through the portal's KYC gate."""
    return await declare_client_wire(db, store, HANNA, amount, key, gates=PORTAL_GATES)


async def stored(db: Database, deposit_id: int) -> Deposit:
    async with db.session() as session:
        deposit = await session.get(Deposit, deposit_id)
        assert deposit is not None
        return deposit


async def transfers(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Transfer)) or 0)


async def test_a_wire_that_arrives_above_the_limit_waits_until_the_client_is_verified(
    db: Database, store: EncryptedFileStore
) -> None:
    await grant_kyc(db, HANNA, KycLevel.BASIC)
    wire = await declare_wire(db, store, 150_000, "hanna-wire-0001")  # 1,500.00 declared: within 2,000

    with pytest.raises(NotAllowedError) as refused:
        await deposits.approve_wire_deposit(db, wire.id, 250_000, FINANCE, gates=OFFICE_GATES)
    assert str(refused.value).startswith("Not credited: Deposits above 2000 USD need verified documents.")
    assert "stays awaiting review" in str(refused.value)
    after = await stored(db, wire.id)
    assert (after.status, after.credited_amount, after.transfer_id) == ("awaiting_review", None, None)
    assert await usd_wallet(db) == (0, 0)
    assert await transfers(db) == 0

    await grant_kyc(db, HANNA, KycLevel.FULL)
    credited = await deposits.approve_wire_deposit(db, wire.id, 250_000, FINANCE, gates=OFFICE_GATES)
    assert (credited.status, credited.credited_amount) == ("credited", 250_000)
    assert await usd_wallet(db) == (250_000, 250_000)
    async with db.session() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["cashier.deposit_requested", "cashier.deposit_approved"]
    await assert_books_balanced(db)


async def test_a_wire_within_the_limit_is_credited_for_a_basic_client(
    db: Database, store: EncryptedFileStore
) -> None:
    await grant_kyc(db, HANNA, KycLevel.BASIC)
    first = await declare_wire(db, store, 120_000, "hanna-wire-0002")
    await deposits.approve_wire_deposit(db, first.id, 120_000, FINANCE, gates=OFFICE_GATES)
    second = await declare_wire(db, store, 80_000, "hanna-wire-0003")  # exactly the 2,000.00 in all
    await deposits.approve_wire_deposit(db, second.id, 80_000, FINANCE, gates=OFFICE_GATES)
    assert await usd_wallet(db) == (200_000, 200_000)
    with pytest.raises(NotAllowedError, match="above 2000 USD"):
        await declare_wire(db, store, 1, "hanna-wire-0004")


async def test_open_requests_count_towards_the_limit(
    db: Database, store: EncryptedFileStore, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    _server, psp = sandbox
    await grant_kyc(db, HANNA, KycLevel.BASIC)
    wire = await declare_wire(db, store, 150_000, "hanna-wire-0005")
    with pytest.raises(NotAllowedError, match="above 2000 USD"):
        await declare_wire(db, store, 60_000, "hanna-wire-0006")
    with pytest.raises(NotAllowedError, match="above 2000 USD"):
        await deposits.start_psp_deposit(
            db,
            psp,
            PORTAL_GATES,
            client_id=HANNA,
            currency="USD",
            amount=60_000,
            idempotency_key="hanna-card-0001",
            actor=CLIENT,
            return_url="http://127.0.0.1/funding",
            callback_url="http://127.0.0.1:9/webhook",
        )
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Deposit)) == 1

    # A rejected request no longer counts: the room it held is free again.
    await deposits.reject_wire_deposit(db, wire.id, "No such payment reached our account.", FINANCE)
    card = await deposits.start_psp_deposit(
        db,
        psp,
        PORTAL_GATES,
        client_id=HANNA,
        currency="USD",
        amount=150_000,
        idempotency_key="hanna-card-0002",
        actor=CLIENT,
        return_url="http://127.0.0.1/funding",
        callback_url="http://127.0.0.1:9/webhook",
    )
    assert card.status == "awaiting_payment"
    with pytest.raises(NotAllowedError, match="above 2000 USD"):
        await declare_wire(db, store, 60_000, "hanna-wire-0007")  # the open card payment counts

    # A card payment left unfinished for a day no longer holds the room: the client may go on.
    async with db.transaction() as session:
        await session.execute(
            update(Deposit)
            .where(Deposit.id == card.id)
            .values(created_at=utcnow() - UNFINISHED_PAYMENT_COUNTS_FOR - timedelta(minutes=1))
        )
    later = await declare_wire(db, store, 60_000, "hanna-wire-0008")
    assert later.status == "awaiting_review"


async def test_a_client_whose_verification_lapsed_is_not_credited(
    db: Database, store: EncryptedFileStore
) -> None:
    await grant_kyc(db, HANNA, KycLevel.FULL)
    wire = await declare_wire(db, store, 500_000, "hanna-wire-0008")
    await grant_kyc(db, HANNA, KycLevel.BASIC)  # documents expired before the money arrived
    with pytest.raises(NotAllowedError, match=r"^Not credited: Deposits above 2000 USD"):
        await deposits.approve_wire_deposit(db, wire.id, 500_000, FINANCE, gates=OFFICE_GATES)
    await grant_kyc(db, HANNA, KycLevel.NONE)
    with pytest.raises(NotAllowedError, match=r"^Not credited: Complete your profile"):
        await deposits.approve_wire_deposit(db, wire.id, 100, FINANCE, gates=OFFICE_GATES)
    assert (await stored(db, wire.id)).status == "awaiting_review"
    assert await usd_wallet(db) == (0, 0)
    assert await transfers(db) == 0

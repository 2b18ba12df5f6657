"""Deposits on the real database: PSP credits exactly once on a verified final answer, refused
webhooks change nothing and are logged, wires credit what finance saw arrive."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from cashier import deposits
from cashier.errors import InvalidFileError, InvalidStateError, NotAllowedError, PaymentProviderError
from cashier.gates import Gates
from cashier.models import Deposit, PspWebhookEvent
from cashier.psp.sandbox import PspSandbox
from cashier.psp.sandbox_client import SandboxPsp
from cashier.psp.signing import SIGNATURE_HEADER, sign
from cashier.wallets import client_wallets
from core.audit.models import AuditEvent
from core.clock import utcnow
from core.db import Database
from core.storage import EncryptedFileStore
from ledger.models import Transfer
from tests.integration.cashier.conftest import (
    CLIENT,
    FINANCE,
    PDF,
    PSP_SECRET,
    assert_books_balanced,
)

pytestmark = pytest.mark.asyncio
ALICE = 501
NOWHERE = "http://127.0.0.1:9/webhook"


async def wallet_balance(db: Database, client_id: int, currency: str = "USD") -> tuple[int, int]:
    for wallet in await client_wallets(db, client_id):
        if wallet.currency == currency:
            return wallet.balance.posted, wallet.balance.available
    return 0, 0


async def open_payment(
    db: Database, psp: SandboxPsp, amount: int = 25_000, key: str = "deposit-key-1"
) -> Deposit:
    return await deposits.start_psp_deposit(
        db,
        psp,
        Gates(),
        client_id=ALICE,
        currency="USD",
        amount=amount,
        idempotency_key=key,
        actor=CLIENT,
        return_url="http://127.0.0.1/funding",
        callback_url=NOWHERE,
    )


async def decide(sandbox: PspSandbox, psp: SandboxPsp, payment_id: str, decision: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=psp.base_url) as http:
        answer = await http.post(f"/v1/payments/{payment_id}/decision", json={"decision": decision})
    assert answer.status_code == 202


async def webhook_outcomes(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(PspWebhookEvent.outcome).order_by(PspWebhookEvent.id)))


async def test_webhook_delivered_twice_credits_once(
    db: Database, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    psp_sandbox, psp = sandbox
    deposit = await open_payment(db, psp)
    assert deposit.status == "awaiting_payment"
    assert deposit.hosted_url == f"{psp.base_url}/pay/{deposit.psp_payment_id}"
    assert await wallet_balance(db, ALICE) == (0, 0)  # nothing before a final answer

    await decide(psp_sandbox, psp, deposit.psp_payment_id or "", "approve")
    headers, body = psp_sandbox.webhook(
        psp_sandbox.payments[deposit.psp_payment_id or ""], "payment.succeeded"
    )
    first = await deposits.receive_webhook(db, psp, headers, body, utcnow())
    second = await deposits.receive_webhook(db, psp, headers, body, utcnow())
    assert (first.status_code, first.outcome) == (200, "credited")
    assert (second.status_code, second.outcome) == (200, "duplicate")
    assert await wallet_balance(db, ALICE) == (25_000, 25_000)
    async with db.session() as session:
        credited = await session.get_one(Deposit, deposit.id)
        transfers = await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.code == "deposit_psp")
        )
    assert credited.status == "credited"
    assert credited.credited_amount == 25_000
    assert transfers == 1
    assert await webhook_outcomes(db) == ["credited", "duplicate"]
    await assert_books_balanced(db)


async def test_same_idempotency_key_opens_one_payment(
    db: Database, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    psp_sandbox, psp = sandbox
    first = await open_payment(db, psp, key="same-key-123")
    again = await open_payment(db, psp, key="same-key-123")
    assert again.id == first.id
    assert again.psp_payment_id == first.psp_payment_id
    assert len(psp_sandbox.payments) == 1


async def test_refused_webhooks_change_nothing_and_are_logged(
    db: Database, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    psp_sandbox, psp = sandbox
    deposit = await open_payment(db, psp)
    payment = psp_sandbox.payments[deposit.psp_payment_id or ""]
    await decide(psp_sandbox, psp, payment.id, "approve")
    headers, body = psp_sandbox.webhook(payment, "payment.succeeded")

    bad_signature = {**headers, SIGNATURE_HEADER: headers[SIGNATURE_HEADER][:-4] + "0000"}
    assert (await deposits.receive_webhook(db, psp, bad_signature, body, utcnow())).status_code == 400

    stale_headers, stale_body = psp_sandbox.webhook(
        payment, "payment.succeeded", timestamp=int(time.time()) - 3600
    )
    assert (await deposits.receive_webhook(db, psp, stale_headers, stale_body, utcnow())).status_code == 400

    tampered = json.loads(body)
    tampered["payment"]["amount"] = 2_500_000
    tampered_body = json.dumps(tampered).encode()
    signed = {SIGNATURE_HEADER: sign(PSP_SECRET.encode(), int(time.time()), tampered_body)}
    assert (await deposits.receive_webhook(db, psp, signed, tampered_body, utcnow())).status_code == 400

    currency = json.loads(body)
    currency["payment"]["currency"] = "EUR"
    currency_body = json.dumps(currency).encode()
    signed = {SIGNATURE_HEADER: sign(PSP_SECRET.encode(), int(time.time()), currency_body)}
    assert (await deposits.receive_webhook(db, psp, signed, currency_body, utcnow())).status_code == 400

    unknown = json.loads(body)
    unknown["payment"]["payment_id"] = "pay_unknown"
    unknown_body = json.dumps(unknown).encode()
    signed = {SIGNATURE_HEADER: sign(PSP_SECRET.encode(), int(time.time()), unknown_body)}
    assert (await deposits.receive_webhook(db, psp, signed, unknown_body, utcnow())).status_code == 404

    assert await wallet_balance(db, ALICE) == (0, 0)
    assert await webhook_outcomes(db) == ["rejected", "rejected", "refused", "refused", "refused"]
    async with db.session() as session:
        details = list(await session.scalars(select(PspWebhookEvent.detail).order_by(PspWebhookEvent.id)))
    assert details[0] == "bad signature"
    assert "stale" in details[1]
    assert "does not match" in details[2]
    assert "does not match" in details[3]
    assert "unknown payment" in details[4]

    # the genuine delivery still credits afterwards
    assert (await deposits.receive_webhook(db, psp, headers, body, utcnow())).outcome == "credited"
    assert await wallet_balance(db, ALICE) == (25_000, 25_000)


async def test_declined_payment_credits_nothing(db: Database, sandbox: tuple[PspSandbox, SandboxPsp]) -> None:
    psp_sandbox, psp = sandbox
    deposit = await open_payment(db, psp)
    await decide(psp_sandbox, psp, deposit.psp_payment_id or "", "decline")
    headers, body = psp_sandbox.webhook(
        psp_sandbox.payments[deposit.psp_payment_id or ""], "payment.declined"
    )
    assert (await deposits.receive_webhook(db, psp, headers, body, utcnow())).outcome == "declined"
    async with db.session() as session:
        assert (await session.get_one(Deposit, deposit.id)).status == "declined"
    assert await wallet_balance(db, ALICE) == (0, 0)


async def test_status_poll_credits_when_the_webhook_is_lost_and_a_late_webhook_changes_nothing(
    db: Database, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    psp_sandbox, psp = sandbox
    deposit = await open_payment(db, psp)
    assert await deposits.poll_deposit(db, psp, deposit.id) == "pending"
    await decide(psp_sandbox, psp, deposit.psp_payment_id or "", "approve")  # its webhook goes nowhere
    assert await deposits.poll_deposit(db, psp, deposit.id) == "credited"
    assert await deposits.poll_deposit(db, psp, deposit.id) == "already_final"
    headers, body = psp_sandbox.webhook(
        psp_sandbox.payments[deposit.psp_payment_id or ""], "payment.succeeded"
    )
    assert (await deposits.receive_webhook(db, psp, headers, body, utcnow())).outcome == "already_final"
    assert await wallet_balance(db, ALICE) == (25_000, 25_000)
    await assert_books_balanced(db)


async def test_unreachable_psp_fails_the_deposit(db: Database) -> None:
    psp = SandboxPsp("http://127.0.0.1:9", PSP_SECRET)
    with pytest.raises(PaymentProviderError):
        await open_payment(db, psp)
    async with db.session() as session:
        deposit = await session.scalar(select(Deposit))
    assert deposit is not None
    assert deposit.status == "failed"


async def test_deposit_gate_refuses(db: Database, sandbox: tuple[PspSandbox, SandboxPsp]) -> None:
    _sandbox, psp = sandbox

    async def no_deposits(_session: object, _client: int, _amount: int, _currency: str) -> None:
        raise NotAllowedError("Complete your profile first.")

    with pytest.raises(NotAllowedError):
        await deposits.start_psp_deposit(
            db,
            psp,
            Gates(deposit=no_deposits),
            client_id=ALICE,
            currency="USD",
            amount=100,  # type: ignore[arg-type]
            idempotency_key="gated-key-1",
            actor=CLIENT,
            return_url="",
            callback_url=NOWHERE,
        )
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Deposit)) == 0


async def test_wire_deposit_credits_the_amount_received(db: Database, store: EncryptedFileStore) -> None:
    deposit = await deposits.submit_wire_deposit(
        db,
        store,
        Gates(),
        client_id=ALICE,
        currency="USD",
        amount=100_000,
        proof=PDF,
        max_bytes=1 << 20,
        idempotency_key="wire-key-0001",
        actor=CLIENT,
    )
    assert deposit.status == "awaiting_review"
    assert store.get(deposit.proof_file_key or "") == PDF
    again = await deposits.submit_wire_deposit(
        db,
        store,
        Gates(),
        client_id=ALICE,
        currency="USD",
        amount=100_000,
        proof=PDF,
        max_bytes=1 << 20,
        idempotency_key="wire-key-0001",
        actor=CLIENT,
    )
    assert again.id == deposit.id
    assert await wallet_balance(db, ALICE) == (0, 0)
    # 99,250 arrived: bank fees on the way
    approved = await deposits.approve_wire_deposit(db, deposit.id, 99_250, FINANCE, gates=Gates())
    assert approved.credited_amount == 99_250
    assert await wallet_balance(db, ALICE) == (99_250, 99_250)
    with pytest.raises(InvalidStateError):
        await deposits.approve_wire_deposit(db, deposit.id, 99_250, FINANCE, gates=Gates())
    assert await wallet_balance(db, ALICE) == (99_250, 99_250)
    async with db.session() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["cashier.deposit_requested", "cashier.deposit_approved"]
    await assert_books_balanced(db)


async def test_wire_deposit_rejected_with_reason(db: Database, store: EncryptedFileStore) -> None:
    deposit = await deposits.submit_wire_deposit(
        db,
        store,
        Gates(),
        client_id=ALICE,
        currency="USD",
        amount=100_000,
        proof=PDF,
        max_bytes=1 << 20,
        idempotency_key="wire-key-0002",
        actor=CLIENT,
    )
    with pytest.raises(InvalidStateError):
        await deposits.reject_wire_deposit(db, deposit.id, "  ", FINANCE)
    rejected = await deposits.reject_wire_deposit(db, deposit.id, "No money arrived", FINANCE)
    assert (rejected.status, rejected.reason) == ("rejected", "No money arrived")
    assert await wallet_balance(db, ALICE) == (0, 0)


@pytest.mark.parametrize(
    "proof", [b"", b"MZ\x90\x00 not a document", b"%PDF-" + b"x" * 2048], ids=["empty", "exe", "too-large"]
)
async def test_wire_proof_is_checked_by_content(
    db: Database, store: EncryptedFileStore, proof: bytes
) -> None:
    with pytest.raises(InvalidFileError):
        await deposits.submit_wire_deposit(
            db,
            store,
            Gates(),
            client_id=ALICE,
            currency="USD",
            amount=100,
            proof=proof,
            max_bytes=1024,
            idempotency_key="wire-key-0003",
            actor=CLIENT,
        )


async def test_chargeback_webhook_blocks_withdrawals_until_closed(
    db: Database, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    from cashier import withdrawals
    from cashier.errors import ChargebackOpenError
    from cashier.models import DestinationKind
    from cashier.withdrawals import Destination
    from tests.integration.cashier.conftest import POLICY

    psp_sandbox, psp = sandbox
    deposit = await open_payment(db, psp)
    await decide(psp_sandbox, psp, deposit.psp_payment_id or "", "approve")
    payment = psp_sandbox.payments[deposit.psp_payment_id or ""]
    headers, body = psp_sandbox.webhook(payment, "payment.succeeded")
    assert (await deposits.receive_webhook(db, psp, headers, body, utcnow())).outcome == "credited"
    headers, body = psp_sandbox.webhook(payment, "chargeback.opened")
    assert (await deposits.receive_webhook(db, psp, headers, body, utcnow())).outcome == "chargeback_opened"

    async def ask(key: str) -> object:
        return await withdrawals.request_withdrawal(
            db,
            Gates(),
            POLICY,
            client_id=ALICE,
            currency="USD",
            amount=1_000,
            destination=Destination(DestinationKind.PSP, psp="sandbox"),
            idempotency_key=key,
            actor=CLIENT,
        )

    with pytest.raises(ChargebackOpenError):
        await ask("chargeback-wd-1")
    headers, body = psp_sandbox.webhook(payment, "chargeback.closed")
    assert (await deposits.receive_webhook(db, psp, headers, body, utcnow())).outcome == "chargeback_closed"
    await ask("chargeback-wd-2")
    assert await wallet_balance(db, ALICE) == (25_000, 24_000)
    async with db.session() as session:
        actions = set(await session.scalars(select(AuditEvent.action)))
    assert {"cashier.chargeback_opened", "cashier.chargeback_closed"} <= actions

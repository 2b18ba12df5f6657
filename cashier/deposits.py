"""Deposits: by PSP (hosted page, then a verified final webhook or status poll) and by bank wire.

A deposit credits the wallet exactly once. Three things make sure of it, each enough alone:
the deposit row is locked and its status moves ``awaiting_payment -> credited`` once; every webhook
event id is stored under a unique constraint; the ledger transfer's idempotency key is derived from
the deposit id, so even a second posting would answer the first transfer.

PSP calls follow claim -> call -> record: a short transaction claims the row, the network call
happens outside any transaction, another short transaction records the answer.

A deposit fee configured in :mod:`cashier.fees` is posted in the credit's journal (wallet -> fee
revenue, its own idempotency key); the limits of :mod:`cashier.limits` are checked at request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.errors import (
    InvalidAmountError,
    InvalidFileError,
    InvalidStateError,
    LimitExceededError,
    NotAllowedError,
    NotFoundError,
    PaymentProviderError,
    WebhookRejectedError,
)
from cashier.fees import fee_amount, fee_rule
from cashier.gates import Gates
from cashier.limits import CurrencyLimits
from cashier.models import Deposit, DepositMethod, DepositStatus, PspWebhookEvent
from cashier.psp.base import EventType, PaymentProvider, PaymentState, PaymentStatus
from cashier.requests import by_key, clean_key, locked
from cashier.transactions import lock_client_deposits, locked_wallet, money_transaction
from cashier.wallets import house_accounts
from core.audit.service import SYSTEM, Actor, record_audit
from core.clock import utcnow
from core.db import Database
from core.events import EventKind, record_event
from core.sniffing import JPEG, PDF, PNG, sniff_content_type
from core.storage import EncryptedFileStore
from ledger.chart import Purpose
from ledger.posting import post_batch
from ledger.requests import Journal, TransferRequest, posted

logger = logging.getLogger(__name__)

PROOF_TYPES = frozenset({PDF, JPEG, PNG})
REASON_LIMIT = 500


def psp_reference(deposit_id: int) -> str:
    return f"dep-{deposit_id}"


def credit_key(deposit_id: int) -> str:
    return f"cashier:deposit:{deposit_id}:credit"


def _audit_view(deposit: Deposit) -> dict[str, object]:
    return {
        "status": deposit.status,
        "amount": deposit.amount,
        "credited_amount": deposit.credited_amount,
        "currency": deposit.currency,
        "method": deposit.method,
        "fee_amount": deposit.fee_amount,
    }


NOT_COUNTED_DEPOSIT_STATUSES = (DepositStatus.DECLINED, DepositStatus.REJECTED, DepositStatus.FAILED)
"""Deposits that never brought money in do not count towards the daily limit."""


async def check_deposit_limits(
    session: AsyncSession, client_id: int, currency: str, amount: int, limits: CurrencyLimits
) -> None:
    """Per-transaction and per-UTC-day limits. The caller holds the wallet's lock, so two requests
    at once can't both fit under the daily limit."""
    if amount < limits.deposit_min:
        raise LimitExceededError("This is less than the smallest deposit we accept.")
    if amount > limits.deposit_max:
        raise LimitExceededError("This is more than a single deposit may be.")
    now = utcnow()
    day_start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    today = await session.scalar(
        select(func.coalesce(func.sum(Deposit.amount), 0)).where(
            Deposit.client_id == client_id,
            Deposit.currency == currency,
            Deposit.created_at >= day_start,
            Deposit.status.not_in([str(s) for s in NOT_COUNTED_DEPOSIT_STATUSES]),
        )
    )
    if int(today or 0) + amount > limits.deposit_daily_max:
        raise LimitExceededError("This would pass your daily deposit limit.")


async def _admit(
    session: AsyncSession,
    gates: Gates,
    client_id: int,
    currency: str,
    amount: int,
    limits: CurrencyLimits | None,
) -> None:
    """Whether the client may request this deposit: the gate (KYC), then the limits.

    The client's deposit lock comes first, then the wallet's: the gate counts the client's open
    requests in every currency as well as what was credited, so two requests at once can't both
    fit under a KYC limit (nor under a daily one).
    """
    await lock_client_deposits(session, client_id)
    await locked_wallet(session, client_id, currency)
    await gates.deposit(session, client_id, amount, currency)
    if limits is not None:
        await check_deposit_limits(session, client_id, currency, amount, limits)


async def _claim(session: AsyncSession, deposit: Deposit, actor: Actor) -> Deposit:
    """Insert the new request, or answer the one a concurrent retry with the same key made."""
    try:
        async with session.begin_nested():
            session.add(deposit)
            await session.flush()
    except IntegrityError:
        existing = await by_key(session, Deposit, deposit.client_id, deposit.idempotency_key)
        assert existing is not None
        return existing
    await record_audit(
        session,
        actor,
        "cashier.deposit_requested",
        target_type="deposit",
        target_id=deposit.id,
        after=_audit_view(deposit),
    )
    return deposit


async def start_psp_deposit(
    db: Database,
    psp: PaymentProvider,
    gates: Gates,
    *,
    client_id: int,
    currency: str,
    amount: int,
    idempotency_key: str,
    actor: Actor,
    return_url: str,
    callback_url: str,
    limits: CurrencyLimits | None = None,
) -> Deposit:
    """Open a PSP payment for the client and answer the deposit with its hosted page URL.
    ``limits``: the currency's limits in force (the apps pass them; ``None`` checks none)."""
    key = clean_key(idempotency_key)
    if amount <= 0:
        raise InvalidAmountError("The amount must be more than zero.")
    async with money_transaction(db) as session:
        existing = await by_key(session, Deposit, client_id, key)
        if existing is not None and existing.status != DepositStatus.CREATED:
            return existing
        if existing is None:
            await house_accounts(session, currency, psp.name)
            await _admit(session, gates, client_id, currency, amount, limits)
            deposit = Deposit(
                client_id=client_id,
                method=DepositMethod.PSP,
                psp=psp.name,
                currency=currency,
                amount=amount,
                status=DepositStatus.CREATED,
                idempotency_key=key,
            )
            existing = await _claim(session, deposit, actor)
        deposit_id = existing.id
    try:
        created = await psp.create_payment(
            reference=psp_reference(deposit_id),
            amount=amount,
            currency=currency,
            return_url=return_url,
            callback_url=callback_url,
        )
    except PaymentProviderError as exc:
        async with money_transaction(db) as session:
            deposit = await locked(session, Deposit, deposit_id)
            if deposit.status == DepositStatus.CREATED:
                deposit.status, deposit.reason = DepositStatus.FAILED, str(exc)[:REASON_LIMIT]
                await record_audit(
                    session,
                    SYSTEM,
                    "cashier.deposit_failed",
                    target_type="deposit",
                    target_id=deposit.id,
                    after={"reason": deposit.reason},
                )
        raise
    async with money_transaction(db) as session:
        deposit = await locked(session, Deposit, deposit_id)
        if deposit.status == DepositStatus.CREATED:
            deposit.psp_payment_id, deposit.hosted_url = created.payment_id, created.hosted_url
            deposit.status = DepositStatus.AWAITING_PAYMENT
            await record_audit(
                session,
                SYSTEM,
                "cashier.deposit_payment_opened",
                target_type="deposit",
                target_id=deposit.id,
                after={"psp_payment_id": created.payment_id},
            )
        return deposit


@dataclass(frozen=True)
class WebhookAnswer:
    """What the webhook endpoint answers the PSP, and what we did (also in the webhook log)."""

    status_code: int
    outcome: str


async def _log_event(
    session: AsyncSession,
    psp: str,
    outcome: str,
    detail: str = "",
    *,
    event_id: str | None = None,
    payment_id: str | None = None,
) -> None:
    session.add(
        PspWebhookEvent(
            psp=psp,
            accepted_event_id=event_id,
            payment_id=payment_id,
            outcome=outcome,
            detail=detail[:REASON_LIMIT],
        )
    )
    await session.flush()


async def receive_webhook(
    db: Database, psp: PaymentProvider, headers: dict[str, str], body: bytes, now: datetime
) -> WebhookAnswer:
    """Verify, deduplicate and apply one webhook delivery. Refusals are logged, never applied."""
    try:
        event = psp.parse_webhook(headers, body, now)
    except WebhookRejectedError as exc:
        logger.warning("refused %s webhook: %s", psp.name, exc)
        async with db.transaction() as session:
            await _log_event(session, psp.name, "rejected", str(exc))
        return WebhookAnswer(400, "rejected")
    try:
        async with money_transaction(db) as session:
            outcome = await _apply_event(
                session, psp.name, event.type, event.payment, event_id=event.event_id
            )
    except (WebhookRejectedError, NotFoundError) as exc:
        logger.warning("refused %s webhook %s: %s", psp.name, event.event_id, exc)
        async with db.transaction() as session:
            await _log_event(session, psp.name, "refused", str(exc), payment_id=event.payment.payment_id)
        return WebhookAnswer(400 if isinstance(exc, WebhookRejectedError) else 404, "refused")
    except IntegrityError:
        outcome = "duplicate"  # a concurrent delivery of the same event committed first
    if outcome == "duplicate":
        async with db.transaction() as session:
            await _log_event(
                session, psp.name, "duplicate", event.event_id, payment_id=event.payment.payment_id
            )
    return WebhookAnswer(200, outcome)


async def poll_deposit(db: Database, psp: PaymentProvider, deposit_id: int) -> str:
    """Ask the PSP about a deposit still waiting (a webhook may be lost) and apply a final answer."""
    async with db.session() as session:
        deposit = await session.get(Deposit, deposit_id)
    if deposit is None or deposit.psp != psp.name or not deposit.psp_payment_id:
        raise NotFoundError("No such PSP deposit.")
    if deposit.status != DepositStatus.AWAITING_PAYMENT:
        return "already_final"
    status = await psp.query_status(deposit.psp_payment_id)
    event_type = {
        PaymentState.SUCCEEDED: EventType.PAYMENT_SUCCEEDED,
        PaymentState.DECLINED: EventType.PAYMENT_DECLINED,
    }.get(status.state)
    if event_type is None:
        return "pending"
    async with money_transaction(db) as session:
        return await _apply_event(session, psp.name, event_type, status, event_id=None)


async def _apply_event(
    session: AsyncSession, psp: str, event_type: EventType, payment: PaymentStatus, *, event_id: str | None
) -> str:
    deposit = await session.scalar(
        select(Deposit)
        .where(Deposit.psp == psp, Deposit.psp_payment_id == payment.payment_id)
        .with_for_update()
    )
    if deposit is None:
        raise NotFoundError(f"unknown payment {payment.payment_id}")
    if event_id is not None:
        seen = await session.scalar(
            select(PspWebhookEvent.id).where(
                PspWebhookEvent.psp == psp, PspWebhookEvent.accepted_event_id == event_id
            )
        )
        if seen is not None:
            return "duplicate"
    if (payment.amount, payment.currency, payment.reference) != (
        deposit.amount,
        deposit.currency,
        psp_reference(deposit.id),
    ):
        raise WebhookRejectedError(
            f"payment {payment.payment_id} does not match deposit {deposit.id}: "
            f"{payment.amount} {payment.currency} {payment.reference}"
        )
    outcome = await _apply_to_deposit(session, deposit, event_type, payment)
    if event_id is not None:
        await _log_event(session, psp, outcome, event_id=event_id, payment_id=payment.payment_id)
    return outcome


async def _apply_to_deposit(
    session: AsyncSession, deposit: Deposit, event_type: EventType, payment: PaymentStatus
) -> str:
    before = _audit_view(deposit)
    if event_type in {EventType.CHARGEBACK_OPENED, EventType.CHARGEBACK_CLOSED}:
        deposit.chargeback_open = event_type is EventType.CHARGEBACK_OPENED
        await record_audit(
            session,
            SYSTEM,
            f"cashier.{event_type.replace('.', '_')}",
            target_type="deposit",
            target_id=deposit.id,
            after={"chargeback_open": deposit.chargeback_open},
        )
        return event_type.replace(".", "_")
    if deposit.status != DepositStatus.AWAITING_PAYMENT:
        return "already_final"
    if event_type is EventType.PAYMENT_DECLINED or payment.state is PaymentState.DECLINED:
        deposit.status = DepositStatus.DECLINED
        await record_audit(
            session,
            SYSTEM,
            "cashier.deposit_declined",
            target_type="deposit",
            target_id=deposit.id,
            before=before,
            after=_audit_view(deposit),
        )
        return "declined"
    if payment.state is not PaymentState.SUCCEEDED:
        return "pending"
    assert deposit.psp is not None
    house = await house_accounts(session, deposit.currency, deposit.psp)
    wallet = await locked_wallet(session, deposit.client_id, deposit.currency)  # before any house account
    transfer = posted(
        credit_key(deposit.id),
        debit=house.psp_clearing[deposit.psp],
        credit=wallet,
        amount=deposit.amount,
        currency=deposit.currency,
        code="deposit_psp",
        reference=f"deposit:{deposit.id}",
    )
    deposit.transfer_id = await _post_credit(session, deposit, transfer, "deposit_psp")
    deposit.status, deposit.credited_amount = DepositStatus.CREDITED, deposit.amount
    _record_completed(session, deposit)
    await record_audit(
        session,
        SYSTEM,
        "cashier.deposit_credited",
        target_type="deposit",
        target_id=deposit.id,
        before=before,
        after=_audit_view(deposit),
    )
    return "credited"


def _record_completed(session: AsyncSession, deposit: Deposit) -> None:
    record_event(
        session,
        EventKind.DEPOSIT_COMPLETED,
        deposit_id=deposit.id,
        client_id=deposit.client_id,
        method=deposit.method,
        currency=deposit.currency,
        amount=deposit.amount,
        credited_amount=deposit.credited_amount,
    )


def fee_key(deposit_id: int) -> str:
    return f"cashier:deposit:{deposit_id}:fee"


async def _post_credit(session: AsyncSession, deposit: Deposit, credit: TransferRequest, method: str) -> int:
    """Credit the wallet and, when a fee is configured for ``method``, take it from the wallet to
    the house's fee revenue in the same journal (all or nothing). The fee never exceeds the
    credit, so the wallet can't go below what it held before."""
    amount = int(credit.amount)  # type: ignore[call-overload]
    rule = await fee_rule(session, deposit.currency, method)
    fee = min(fee_amount(rule, amount), amount)
    transfers = [credit]
    if fee > 0 and credit.credit_account_id is not None:
        house = await house_accounts(session, deposit.currency)
        transfers.append(
            posted(
                fee_key(deposit.id),
                debit=credit.credit_account_id,
                credit=house[Purpose.FEES_REVENUE],
                amount=fee,
                currency=deposit.currency,
                code=f"{method}_fee",
                reference=f"deposit:{deposit.id}",
            )
        )
    results = await post_batch(session, [Journal(transfers)])
    if not all(result.ok for result in results) or results[0].transfer_id is None:
        raise InvalidStateError(f"the ledger refused the deposit: {[r.refusal for r in results]}")
    deposit.fee_amount = fee
    return results[0].transfer_id


def check_proof(data: bytes, max_bytes: int) -> str:
    """The proof's media type judged by content; refuses empty, oversized and other files."""
    if not data:
        raise InvalidFileError("Attach the proof of payment (PDF, JPEG or PNG).")
    if len(data) > max_bytes:
        raise InvalidFileError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    media_type = sniff_content_type(data)
    if media_type not in PROOF_TYPES:
        raise InvalidFileError("The proof must be a PDF, JPEG or PNG file.")
    return media_type


async def submit_wire_deposit(
    db: Database,
    store: EncryptedFileStore,
    gates: Gates,
    *,
    client_id: int,
    currency: str,
    amount: int,
    proof: bytes,
    max_bytes: int,
    idempotency_key: str,
    actor: Actor,
    limits: CurrencyLimits | None = None,
) -> Deposit:
    """The client says they sent a wire and uploads the proof; finance reviews it."""
    key = clean_key(idempotency_key)
    async with db.session() as session:
        existing = await by_key(session, Deposit, client_id, key)
    if existing is not None:
        return existing
    media_type = check_proof(proof, max_bytes)
    stored = store.put(proof)
    async with money_transaction(db) as session:
        await _admit(session, gates, client_id, currency, amount, limits)
        deposit = Deposit(
            client_id=client_id,
            method=DepositMethod.WIRE,
            currency=currency,
            amount=amount,
            status=DepositStatus.AWAITING_REVIEW,
            idempotency_key=key,
            proof_file_key=stored.key,
            proof_content_type=media_type,
        )
        return await _claim(session, deposit, actor)


async def approve_wire_deposit(
    db: Database, deposit_id: int, received_amount: int, actor: Actor, *, gates: Gates
) -> Deposit:
    """Finance saw ``received_amount`` arrive (it may differ from the declared amount): credit it.

    The gate is asked again: the amount received may be more than the client declared, and the
    client's KYC level may have changed since. It runs with this deposit already counted as
    credited at ``received_amount`` (in the transaction, not yet committed), so it judges what the
    client will have deposited once this credit stands; a refusal leaves the deposit awaiting review.
    """
    if received_amount <= 0:
        raise InvalidAmountError("The received amount must be more than zero.")
    async with money_transaction(db) as session:
        deposit = await locked(session, Deposit, deposit_id)
        if deposit.method != DepositMethod.WIRE or deposit.status != DepositStatus.AWAITING_REVIEW:
            raise InvalidStateError("Only a wire deposit awaiting review can be approved.")
        before = _audit_view(deposit)
        await lock_client_deposits(session, deposit.client_id)
        wallet = await locked_wallet(session, deposit.client_id, deposit.currency)
        deposit.status, deposit.credited_amount = DepositStatus.CREDITED, received_amount
        await session.flush()
        try:
            await gates.deposit(session, deposit.client_id, 0, deposit.currency)
        except NotAllowedError as exc:
            raise NotAllowedError(
                f"Not credited: {exc} The deposit stays awaiting review; once the client is verified"
                " it can be approved, or reject it and return the wire."
            ) from None
        house = await house_accounts(session, deposit.currency)
        transfer = posted(
            credit_key(deposit.id),
            debit=house[Purpose.BANK],
            credit=wallet,
            amount=received_amount,
            currency=deposit.currency,
            code="deposit_wire",
            reference=f"deposit:{deposit.id}",
        )
        deposit.transfer_id = await _post_credit(session, deposit, transfer, "deposit_wire")
        deposit.decided_by = actor.id
        _record_completed(session, deposit)
        await record_audit(
            session,
            actor,
            "cashier.deposit_approved",
            target_type="deposit",
            target_id=deposit.id,
            before=before,
            after=_audit_view(deposit),
        )
        return deposit


async def reject_wire_deposit(db: Database, deposit_id: int, reason: str, actor: Actor) -> Deposit:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidStateError("Give the client a reason for the rejection.")
    async with money_transaction(db) as session:
        deposit = await locked(session, Deposit, deposit_id)
        if deposit.method != DepositMethod.WIRE or deposit.status != DepositStatus.AWAITING_REVIEW:
            raise InvalidStateError("Only a wire deposit awaiting review can be rejected.")
        before = _audit_view(deposit)
        deposit.status, deposit.reason, deposit.decided_by = (
            DepositStatus.REJECTED,
            reason[:REASON_LIMIT],
            actor.id,
        )
        await record_audit(
            session,
            actor,
            "cashier.deposit_rejected",
            target_type="deposit",
            target_id=deposit.id,
            before=before,
            after={**_audit_view(deposit), "reason": reason},
        )
        return deposit


async def awaiting_payment_ids(db: Database, older_than: datetime, limit: int = 200) -> list[int]:
    """PSP deposits still waiting since before ``older_than``: the poller asks the PSP about them."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Deposit.id)
            .where(Deposit.status == DepositStatus.AWAITING_PAYMENT, Deposit.created_at < older_than)
            .order_by(Deposit.id)
            .limit(limit)
        )
        return list(rows)

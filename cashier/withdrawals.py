"""Withdrawals: reserved in the ledger at request, approved (four eyes above a threshold), paid, posted.

The request and its pending ledger transfer (wallet -> withdrawals in transit) commit together, so
the money can't be spent twice: the wallet's overdraft guard counts pending debits, and the wallet
row is locked while the limits are summed. Approval never moves money. Payout posts the pending
transfer and moves it on from "in transit" to the bank or the PSP, in one journal. A rejection or a
cancellation voids the pending transfer; nothing moved, nothing to reverse.

A withdrawal fee configured in :mod:`cashier.fees` follows the amount: a second pending transfer
(wallet -> fee revenue) in the same journals, reserved at request, posted on payout, voided on a
rejection or cancellation. The limits come from :mod:`cashier.limits` as the caller's policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.errors import (
    ChargebackOpenError,
    DestinationError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidStateError,
    LimitExceededError,
    PaymentProviderError,
    SameApproverError,
)
from cashier.fees import fee_amount, fee_rule
from cashier.gates import Gates
from cashier.models import (
    COUNTED_WITHDRAWAL_STATUSES,
    OPEN_WITHDRAWAL_STATUSES,
    BankAccount,
    BankAccountStatus,
    Deposit,
    DepositMethod,
    DepositStatus,
    DestinationKind,
    Withdrawal,
    WithdrawalStatus,
)
from cashier.psp.base import PaymentProvider, PaymentState
from cashier.requests import by_key, clean_key, locked
from cashier.transactions import locked_wallet, money_transaction
from cashier.wallets import house_accounts
from core.audit.service import SYSTEM, Actor, record_audit
from core.clock import utcnow
from core.db import Database
from core.events import EventKind, record_event
from ledger.chart import Purpose
from ledger.posting import post_batch
from ledger.requests import Journal, Refusal, pending, post_pending, posted, void_pending

REASON_LIMIT = 500


@dataclass(frozen=True)
class WithdrawalPolicy:
    """The configurable limits, in minor units of the withdrawal's currency."""

    per_transaction_max: int
    daily_max: int
    four_eyes_from: int
    deadline: timedelta
    per_transaction_min: int = 0


@dataclass(frozen=True)
class Destination:
    """Where the money goes: a saved bank account (by id) or back to a PSP that deposited."""

    kind: DestinationKind
    bank_account_id: int | None = None
    psp: str | None = None


def hold_key(withdrawal_id: int) -> str:
    return f"cashier:withdrawal:{withdrawal_id}:hold"


def fee_key(withdrawal_id: int) -> str:
    return f"cashier:withdrawal:{withdrawal_id}:fee"


FEE_METHODS = {DestinationKind.BANK_ACCOUNT: "withdrawal_bank", DestinationKind.PSP: "withdrawal_psp"}


def _view(withdrawal: Withdrawal) -> dict[str, object]:
    return {
        "status": withdrawal.status,
        "amount": withdrawal.amount,
        "currency": withdrawal.currency,
        "first_approver_id": withdrawal.first_approver_id,
        "second_approver_id": withdrawal.second_approver_id,
        "payout_reference": withdrawal.payout_reference,
        "fee_amount": withdrawal.fee_amount,
    }


async def _check_destination(
    session: AsyncSession, client_id: int, currency: str, destination: Destination
) -> None:
    """The destination must be in the client's own name: a verified saved account, or a PSP that
    already paid money in for this client in this currency."""
    if destination.kind is DestinationKind.BANK_ACCOUNT:
        account = await session.get(BankAccount, destination.bank_account_id or 0)
        if account is None or account.client_id != client_id or account.status == BankAccountStatus.REMOVED:
            raise DestinationError("Choose one of your saved bank accounts.")
        if account.status != BankAccountStatus.VERIFIED:
            raise DestinationError("This bank account is not verified yet.")
        return
    deposited = await session.scalar(
        select(Deposit.id)
        .where(
            Deposit.client_id == client_id,
            Deposit.method == DepositMethod.PSP,
            Deposit.psp == destination.psp,
            Deposit.currency == currency,
            Deposit.status == DepositStatus.CREDITED,
        )
        .limit(1)
    )
    if deposited is None:
        raise DestinationError("Money can only go back to a payment provider you deposited with.")


async def _check_no_chargeback(session: AsyncSession, client_id: int) -> None:
    open_chargeback = await session.scalar(
        select(Deposit.id).where(Deposit.client_id == client_id, Deposit.chargeback_open.is_(True)).limit(1)
    )
    if open_chargeback is not None:
        raise ChargebackOpenError(
            "A card payment of yours is disputed; withdrawals wait until it is settled."
        )


async def _check_limits(
    session: AsyncSession, client_id: int, currency: str, amount: int, policy: WithdrawalPolicy, now: datetime
) -> None:
    if amount > policy.per_transaction_max:
        raise LimitExceededError("This is more than a single withdrawal may be.")
    if amount < policy.per_transaction_min:
        raise LimitExceededError("This is less than the smallest withdrawal we can pay out.")
    day_start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    requested_today = await session.scalar(
        select(func.coalesce(func.sum(Withdrawal.amount), 0)).where(
            Withdrawal.client_id == client_id,
            Withdrawal.currency == currency,
            Withdrawal.created_at >= day_start,
            Withdrawal.status.in_([str(s) for s in COUNTED_WITHDRAWAL_STATUSES]),
        )
    )
    if int(requested_today or 0) + amount > policy.daily_max:
        raise LimitExceededError("This would pass your daily withdrawal limit.")


async def request_withdrawal(
    db: Database,
    gates: Gates,
    policy: WithdrawalPolicy,
    *,
    client_id: int,
    currency: str,
    amount: int,
    destination: Destination,
    idempotency_key: str,
    actor: Actor,
) -> Withdrawal:
    """Check, then reserve the money with a pending ledger transfer, in one transaction."""
    key = clean_key(idempotency_key)
    if amount <= 0:
        raise InvalidAmountError("The amount must be more than zero.")
    now = utcnow()
    try:
        async with money_transaction(db) as session:
            existing = await by_key(session, Withdrawal, client_id, key)
            if existing is not None:
                return existing
            await gates.withdrawal(session, client_id)
            wallet = await locked_wallet(session, client_id, currency)
            house = await house_accounts(session, currency)
            await _check_no_chargeback(session, client_id)
            await _check_destination(session, client_id, currency, destination)
            await _check_limits(session, client_id, currency, amount, policy, now)
            withdrawal = Withdrawal(
                client_id=client_id,
                currency=currency,
                amount=amount,
                status=WithdrawalStatus.PENDING_APPROVAL,
                destination_kind=destination.kind,
                bank_account_id=destination.bank_account_id,
                psp=destination.psp,
                idempotency_key=key,
                due_at=now + policy.deadline,
                created_at=now,
            )
            session.add(withdrawal)
            await session.flush()
            hold = pending(
                hold_key(withdrawal.id),
                debit=wallet,
                credit=house[Purpose.WITHDRAWALS_IN_TRANSIT],
                amount=amount,
                currency=currency,
                code="withdrawal",
                reference=f"withdrawal:{withdrawal.id}",
            )
            rule = await fee_rule(session, currency, FEE_METHODS[DestinationKind(destination.kind)])
            fee = fee_amount(rule, amount)
            transfers = [hold]
            if fee > 0:
                transfers.append(
                    pending(
                        fee_key(withdrawal.id),
                        debit=wallet,
                        credit=house[Purpose.FEES_REVENUE],
                        amount=fee,
                        currency=currency,
                        code="withdrawal_fee",
                        reference=f"withdrawal:{withdrawal.id}",
                    )
                )
            results = await post_batch(session, [Journal(transfers)])
            refusals = {result.refusal for result in results}
            if Refusal.INSUFFICIENT_FUNDS in refusals:
                raise InsufficientFundsError(
                    "Your available balance is not enough for this withdrawal and its fee."
                    if fee
                    else "Your available balance is not enough for this withdrawal."
                )
            if not all(result.ok for result in results):
                raise InvalidStateError(f"the ledger refused the withdrawal: {sorted(map(str, refusals))}")
            withdrawal.hold_transfer_id = results[0].transfer_id
            if fee > 0:
                withdrawal.fee_amount, withdrawal.fee_transfer_id = fee, results[1].transfer_id
            await record_audit(
                session,
                actor,
                "cashier.withdrawal_requested",
                target_type="withdrawal",
                target_id=withdrawal.id,
                after=_view(withdrawal),
            )
            return withdrawal
    except IntegrityError:
        async with db.session() as session:  # a concurrent retry with the same key won the insert
            existing = await by_key(session, Withdrawal, client_id, key)
        if existing is None:
            raise
        return existing


async def approve_withdrawal(
    db: Database, withdrawal_id: int, policy: WithdrawalPolicy, actor: Actor
) -> Withdrawal:
    """One approval; at or above the four-eyes amount a second, different approver is needed."""
    async with money_transaction(db) as session:
        withdrawal = await locked(session, Withdrawal, withdrawal_id)
        before = _view(withdrawal)
        if withdrawal.status == WithdrawalStatus.PENDING_APPROVAL:
            withdrawal.first_approver_id = actor.id
            needs_two = withdrawal.amount >= policy.four_eyes_from
            withdrawal.status = (
                WithdrawalStatus.AWAITING_SECOND_APPROVAL if needs_two else WithdrawalStatus.APPROVED
            )
        elif withdrawal.status == WithdrawalStatus.AWAITING_SECOND_APPROVAL:
            if withdrawal.first_approver_id == actor.id:
                raise SameApproverError("A second approver must be someone else.")
            withdrawal.second_approver_id = actor.id
            withdrawal.status = WithdrawalStatus.APPROVED
        else:
            raise InvalidStateError("This withdrawal is not waiting for approval.")
        await record_audit(
            session,
            actor,
            "cashier.withdrawal_approved",
            target_type="withdrawal",
            target_id=withdrawal.id,
            before=before,
            after=_view(withdrawal),
        )
        return withdrawal


async def _void(
    db: Database,
    withdrawal_id: int,
    status: WithdrawalStatus,
    reason: str,
    actor: Actor,
    client_id: int | None,
    allowed: tuple[WithdrawalStatus, ...],
) -> Withdrawal:
    async with money_transaction(db) as session:
        withdrawal = await locked(session, Withdrawal, withdrawal_id, client_id)
        if withdrawal.status not in allowed:
            raise InvalidStateError("This withdrawal can no longer be " + status.value + ".")
        before = _view(withdrawal)
        assert withdrawal.hold_transfer_id is not None
        await locked_wallet(session, withdrawal.client_id, withdrawal.currency)
        releases = [
            void_pending(
                f"{hold_key(withdrawal.id)}:void",
                pending_id=withdrawal.hold_transfer_id,
                code=f"withdrawal_{status.value}",
            )
        ]
        if withdrawal.fee_transfer_id is not None:
            releases.append(
                void_pending(
                    f"{fee_key(withdrawal.id)}:void",
                    pending_id=withdrawal.fee_transfer_id,
                    code=f"withdrawal_fee_{status.value}",
                )
            )
        results = await post_batch(session, [Journal(releases)])
        if not all(result.ok for result in results):
            refusals = [result.refusal for result in results]
            raise InvalidStateError(f"the ledger refused to release the money: {refusals}")
        withdrawal.status, withdrawal.reason = status, reason[:REASON_LIMIT] or None
        await record_audit(
            session,
            actor,
            f"cashier.withdrawal_{status.value}",
            target_type="withdrawal",
            target_id=withdrawal.id,
            before=before,
            after={**_view(withdrawal), "reason": reason},
        )
        return withdrawal


async def reject_withdrawal(db: Database, withdrawal_id: int, reason: str, actor: Actor) -> Withdrawal:
    """Finance refuses: the reserved money is released to the wallet."""
    if not (reason or "").strip():
        raise InvalidStateError("Give the client a reason for the rejection.")
    allowed = (
        WithdrawalStatus.PENDING_APPROVAL,
        WithdrawalStatus.AWAITING_SECOND_APPROVAL,
        WithdrawalStatus.APPROVED,
    )
    return await _void(db, withdrawal_id, WithdrawalStatus.REJECTED, reason.strip(), actor, None, allowed)


async def cancel_withdrawal(db: Database, withdrawal_id: int, client_id: int, actor: Actor) -> Withdrawal:
    """The client changes their mind before anyone approved it."""
    allowed = (WithdrawalStatus.PENDING_APPROVAL,)
    return await _void(db, withdrawal_id, WithdrawalStatus.CANCELLED, "", actor, client_id, allowed)


async def _settle(session: AsyncSession, withdrawal: Withdrawal, reference: str, to_account: int) -> None:
    """Post the reserved transfer and move it on from 'in transit' to where the money left."""
    assert withdrawal.hold_transfer_id is not None
    await locked_wallet(session, withdrawal.client_id, withdrawal.currency)
    house = await house_accounts(session, withdrawal.currency)
    transfers = [
        post_pending(
            f"{hold_key(withdrawal.id)}:post",
            pending_id=withdrawal.hold_transfer_id,
            code="withdrawal_paid",
        ),
        posted(
            f"cashier:withdrawal:{withdrawal.id}:payout",
            debit=house[Purpose.WITHDRAWALS_IN_TRANSIT],
            credit=to_account,
            amount=withdrawal.amount,
            currency=withdrawal.currency,
            code="withdrawal_payout",
            reference=reference[:128],
        ),
    ]
    if withdrawal.fee_transfer_id is not None:
        transfers.append(
            post_pending(
                f"{fee_key(withdrawal.id)}:post", pending_id=withdrawal.fee_transfer_id, code="withdrawal_fee"
            )
        )
    journal = Journal(transfers)
    results = await post_batch(session, [journal])
    if not all(result.ok for result in results):
        raise InvalidStateError(f"the ledger refused the payout: {[r.refusal for r in results]}")
    withdrawal.status, withdrawal.payout_reference = WithdrawalStatus.PAID, reference
    record_event(
        session,
        EventKind.WITHDRAWAL_PAID,
        withdrawal_id=withdrawal.id,
        client_id=withdrawal.client_id,
        destination_kind=withdrawal.destination_kind,
        currency=withdrawal.currency,
        amount=withdrawal.amount,
        fee_amount=withdrawal.fee_amount,
    )


async def mark_paid_by_wire(db: Database, withdrawal_id: int, reference: str, actor: Actor) -> Withdrawal:
    """Finance sent the wire from the bank and records its reference."""
    reference = (reference or "").strip()
    if not reference:
        raise InvalidStateError("Enter the bank's payment reference.")
    async with money_transaction(db) as session:
        withdrawal = await locked(session, Withdrawal, withdrawal_id)
        if (
            withdrawal.status != WithdrawalStatus.APPROVED
            or withdrawal.destination_kind != DestinationKind.BANK_ACCOUNT
        ):
            raise InvalidStateError(
                "Only an approved withdrawal to a bank account can be marked paid by wire."
            )
        before = _view(withdrawal)
        house = await house_accounts(session, withdrawal.currency)
        await _settle(session, withdrawal, reference, house[Purpose.BANK])
        await record_audit(
            session,
            actor,
            "cashier.withdrawal_paid",
            target_type="withdrawal",
            target_id=withdrawal.id,
            before=before,
            after=_view(withdrawal),
        )
        return withdrawal


def payout_reference(withdrawal_id: int) -> str:
    return f"wd-{withdrawal_id}"


async def pay_via_psp(db: Database, psp: PaymentProvider, withdrawal_id: int, actor: Actor) -> Withdrawal:
    """Claim -> call -> record. The PSP payout is keyed by our reference, so a retry after a crash
    (the row left ``paying``) gets the same payout back instead of paying twice."""
    async with money_transaction(db) as session:
        withdrawal = await locked(session, Withdrawal, withdrawal_id)
        if withdrawal.destination_kind != DestinationKind.PSP or withdrawal.psp != psp.name:
            raise InvalidStateError("This withdrawal does not go back to this payment provider.")
        if withdrawal.status not in (WithdrawalStatus.APPROVED, WithdrawalStatus.PAYING):
            raise InvalidStateError("Only an approved withdrawal can be paid out.")
        withdrawal.status = WithdrawalStatus.PAYING
        amount, currency, client_id = withdrawal.amount, withdrawal.currency, withdrawal.client_id
        await record_audit(
            session,
            actor,
            "cashier.withdrawal_payout_started",
            target_type="withdrawal",
            target_id=withdrawal.id,
            after=_view(withdrawal),
        )
    try:
        payout = await psp.payout(
            reference=payout_reference(withdrawal_id),
            amount=amount,
            currency=currency,
            destination=f"client:{client_id}",
        )
    except PaymentProviderError:
        async with money_transaction(db) as session:
            withdrawal = await locked(session, Withdrawal, withdrawal_id)
            if withdrawal.status == WithdrawalStatus.PAYING:
                withdrawal.status = WithdrawalStatus.APPROVED
                await record_audit(
                    session,
                    actor,
                    "cashier.withdrawal_payout_failed",
                    target_type="withdrawal",
                    target_id=withdrawal.id,
                    after=_view(withdrawal),
                )
        raise
    async with money_transaction(db) as session:
        withdrawal = await locked(session, Withdrawal, withdrawal_id)
        if withdrawal.status != WithdrawalStatus.PAYING:
            return withdrawal
        if payout.state is not PaymentState.SUCCEEDED:
            raise PaymentProviderError(f"the payout is {payout.state}")
        before = _view(withdrawal)
        house = await house_accounts(session, withdrawal.currency, psp.name)
        await _settle(session, withdrawal, payout.payout_id, house.psp_clearing[psp.name])
        await record_audit(
            session,
            actor,
            "cashier.withdrawal_paid",
            target_type="withdrawal",
            target_id=withdrawal.id,
            before=before,
            after=_view(withdrawal),
        )
        return withdrawal


async def flag_overdue(db: Database, now: datetime | None = None) -> int:
    """Mark open requests past their deadline (once each, audited); answers how many were flagged."""
    moment = now or utcnow()
    async with db.write_transaction() as session:  # reads, then writes (SQLite: lock from the start)
        overdue = list(
            await session.scalars(
                select(Withdrawal.id)
                .where(
                    Withdrawal.status.in_([str(s) for s in OPEN_WITHDRAWAL_STATUSES]),
                    Withdrawal.due_at < moment,
                    Withdrawal.flagged_at.is_(None),
                )
                .with_for_update(skip_locked=True)
            )
        )
        if not overdue:
            return 0
        await session.execute(update(Withdrawal).where(Withdrawal.id.in_(overdue)).values(flagged_at=moment))
        for withdrawal_id in overdue:
            await record_audit(
                session,
                SYSTEM,
                "cashier.withdrawal_flagged_overdue",
                target_type="withdrawal",
                target_id=withdrawal_id,
                after={"flagged_at": moment},
            )
        return len(overdue)

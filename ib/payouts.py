"""Paying IBs: commission payable → the IB's wallet, instantly, daily or monthly, through the ledger.

Each IB has a policy: how often, the minimum worth paying, and whether payouts wait for staff
review. A held payout is a *pending* ledger transfer, so the money is reserved (a clawback can't
take it) until staff approve (post) or reject (void) it. A scheduled payout's idempotency key names
its period, so a redelivered schedule pays nothing twice; an instant payout pays what is available,
which a redelivery finds already gone. From the wallet the IB withdraws or transfers to a trading
account through the cashier.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import Database
from core.events import EventKind, record_event
from ib import audit
from ib.errors import PayoutError
from ib.ledger_accounts import payable_accounts, wallet_account
from ib.models import Partner, Payout, PayoutPolicy, Scheme
from ib.partners import get_partner
from ib.sessions import posting_session
from ledger.posting import post_batch
from ledger.reading import get_balance
from ledger.requests import Journal, pending, post_pending, posted, void_pending

FREQUENCIES = ("instant", "daily", "monthly")


async def set_policy(
    session: AsyncSession,
    partner_id: int,
    *,
    frequency: str,
    minimum_amount: int = 0,
    hold_for_review: bool = False,
    actor: str,
    now: datetime,
) -> PayoutPolicy:
    if frequency not in FREQUENCIES:
        raise PayoutError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    if minimum_amount < 0:
        raise PayoutError("the minimum payout can't be negative")
    await get_partner(session, partner_id)
    policy = await session.get(PayoutPolicy, partner_id)
    before = None
    if policy is None:
        policy = PayoutPolicy(partner_id=partner_id)
        session.add(policy)
    else:
        before = {
            "frequency": policy.frequency,
            "minimum": policy.minimum_amount,
            "hold": policy.hold_for_review,
        }
    policy.frequency = frequency
    policy.minimum_amount = minimum_amount
    policy.hold_for_review = hold_for_review
    audit.record(
        session,
        actor=actor,
        action="ib.payout_policy_set",
        subject=f"partner:{partner_id}",
        now=now,
        before=before,
        after={"frequency": frequency, "minimum": minimum_amount, "hold": hold_for_review},
    )
    await session.flush()
    return policy


def period_tag(frequency: str, now: datetime) -> str:
    return f"{now:%Y-%m-%d}" if frequency == "daily" else f"{now:%Y-%m}"


async def _currencies(session: AsyncSession) -> list[str]:
    return sorted({currency for (currency,) in await session.execute(select(Scheme.currency))})


async def pay_out(
    db: Database,
    partner_id: int,
    *,
    now: datetime | None = None,
    scheduled: str | None = None,
    request_key: str | None = None,
    actor: str = "system",
) -> list[Payout]:
    """Pay an IB what its payable accounts hold (at least the policy's minimum), or hold it for review.

    ``scheduled`` is ``"daily"`` or ``"monthly"`` when the schedule calls, so the key names the period.
    ``request_key`` is the idempotency key of an IB's own request from the portal: a retry of the
    same request answers the payouts it made and pays nothing more. ``actor`` is who asked (the
    IB itself, ``"client:<id>"``, for a request from the portal).
    """
    now = now or utcnow()
    made: list[Payout] = []
    async with posting_session(db) as session:
        partner = await session.get(Partner, partner_id)
        if partner is None:
            raise PayoutError(f"no IB {partner_id}")
        policy = await session.get(PayoutPolicy, partner_id)
        minimum = 0 if policy is None else policy.minimum_amount
        hold = False if policy is None else policy.hold_for_review
        for currency in await _currencies(session):
            if request_key is not None:
                key = f"ib:p:{partner_id}:{currency}:request:{request_key}"
                earlier = await session.scalar(select(Payout).where(Payout.ledger_key == key))
                if earlier is not None:
                    made.append(earlier)
                    continue
            payable = (await payable_accounts(session, [partner_id], currency))[partner_id]
            available = (await get_balance(session, payable)).available
            if available <= 0 or available < minimum:
                if request_key is not None:
                    # A copy of this very request may have paid between the look-up above and the
                    # balance read (which then saw its debit): its payout, committed with that
                    # debit, is visible now, and this copy answers it rather than "nothing to pay".
                    earlier = await session.scalar(select(Payout).where(Payout.ledger_key == key))
                    if earlier is not None:
                        made.append(earlier)
                continue
            if request_key is None and scheduled is not None:
                key = f"ib:p:{partner_id}:{currency}:{scheduled}:{period_tag(scheduled, now)}"
                if await session.scalar(select(Payout.id).where(Payout.ledger_key == key)) is not None:
                    continue
            elif request_key is None:
                count = await session.scalar(
                    select(func.count()).select_from(Payout).where(Payout.partner_id == partner_id)
                )
                key = f"ib:p:{partner_id}:{currency}:instant:{(count or 0) + 1}"
            wallet = await wallet_account(session, partner.client_id, currency)
            make = pending if hold else posted
            request = make(
                key, debit=payable, credit=wallet, amount=available, currency=currency, code="ib.payout"
            )
            [result] = await post_batch(session, [Journal([request])], now=now)
            if not result.ok:
                raise PayoutError(f"ledger refused the payout: {result.refusal}")
            payout = Payout(
                partner_id=partner_id,
                currency=currency,
                amount=available,
                status="held" if hold else "paid",
                ledger_key=key,
                transfer_id=result.transfer_id,
                created_at=now,
            )
            session.add(payout)
            await session.flush()
            if not hold:
                _record_paid(session, payout, partner.client_id)
            audit.record(
                session,
                actor=actor,
                action="ib.payout_held" if hold else "ib.payout_paid",
                subject=f"partner:{partner_id}",
                now=now,
                after={"payout_id": payout.id, "amount": available, "currency": currency},
            )
            made.append(payout)
    return made


def _record_paid(session: AsyncSession, payout: Payout, client_id: int | None) -> None:
    """An IB's commission reached its wallet: the event integrations (an IB's own CRM) wait for."""
    record_event(
        session,
        EventKind.IB_COMMISSION_PAID,
        payout_id=payout.id,
        partner_id=payout.partner_id,
        client_id=client_id,
        currency=payout.currency,
        amount=payout.amount,
    )


async def run_scheduled(db: Database, frequency: str, *, now: datetime | None = None) -> list[Payout]:
    """The schedule's tick: pay every IB whose policy has this frequency."""
    if frequency not in ("daily", "monthly"):
        raise PayoutError("scheduled payouts are daily or monthly")
    now = now or utcnow()
    async with db.session() as session:
        partner_ids = (
            await session.scalars(select(PayoutPolicy.partner_id).where(PayoutPolicy.frequency == frequency))
        ).all()
    made: list[Payout] = []
    for partner_id in partner_ids:
        made.extend(await pay_out(db, partner_id, now=now, scheduled=frequency))
    return made


async def decide(
    db: Database, payout_id: int, *, approve: bool, actor: str, now: datetime | None = None, reason: str = ""
) -> Payout:
    """Staff release a held payout to the wallet (approve) or give the money back to payable (reject)."""
    now = now or utcnow()
    async with posting_session(db) as session:
        payout = await session.get(Payout, payout_id, with_for_update=True)
        if payout is None:
            raise PayoutError(f"no payout {payout_id}")
        if payout.status != "held" or payout.transfer_id is None:
            raise PayoutError(f"payout {payout_id} is {payout.status}, not held")
        key = f"{payout.ledger_key}:{'post' if approve else 'void'}"
        request = (
            post_pending(key, pending_id=payout.transfer_id, code="ib.payout")
            if approve
            else void_pending(key, pending_id=payout.transfer_id, code="ib.payout")
        )
        [result] = await post_batch(session, [Journal([request])], now=now)
        if not result.ok:
            raise PayoutError(f"ledger refused: {result.refusal}")
        payout.status = "paid" if approve else "rejected"
        payout.decided_by = actor
        payout.decided_at = now
        payout.reason = reason
        if approve:
            partner = await session.get(Partner, payout.partner_id)
            _record_paid(session, payout, None if partner is None else partner.client_id)
        audit.record(
            session,
            actor=actor,
            action="ib.payout_approved" if approve else "ib.payout_rejected",
            subject=f"payout:{payout_id}",
            now=now,
            before={"status": "held"},
            after={"status": payout.status},
            reason=reason,
        )
    return payout

"""An IB's payouts as its portal shows them, and the IB's own request for one.

The IB may ask for a payout itself only when no schedule pays it: no policy yet (paid on request)
or the ``instant`` mode. An IB paid daily or monthly waits for its schedule, so staff's choice of
mode holds. The request goes through :func:`ib.payouts.pay_out` with the form's idempotency key,
so a double submit pays once; the policy's minimum and review hold apply as for any payout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from ib import payouts
from ib.errors import PayoutError
from ib.models import Payout, PayoutPolicy
from ledger.chart import OwnerKind, Purpose
from ledger.models import Account
from ledger.reading import get_balances

REQUESTABLE = ("instant",)
KEY_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Payable:
    """Commission earned and not yet paid out, in one currency; ``reserved`` waits for review."""

    currency: str
    available: int
    reserved: int


@dataclass(frozen=True)
class PayoutOverview:
    frequency: str | None
    minimum_amount: int
    hold_for_review: bool
    may_request: bool
    """The mode lets the IB ask (whether or not anything is available right now)."""
    payable: list[Payable]
    payouts: list[Payout]


def may_request(policy: PayoutPolicy | None) -> bool:
    return policy is None or policy.frequency in REQUESTABLE


async def payable_balances(session: AsyncSession, partner_id: int) -> list[Payable]:
    """The IB's commission payable accounts that exist (reading never opens one)."""
    rows = await session.execute(
        select(Account.id, Account.currency)
        .where(
            Account.owner_kind == str(OwnerKind.IB),
            Account.purpose == str(Purpose.IB_COMMISSION_PAYABLE),
            Account.owner_id == str(partner_id),
        )
        .order_by(Account.currency)
    )
    accounts: dict[int, str] = {account: currency for account, currency in rows}
    balances = await get_balances(session, list(accounts))
    return [
        Payable(currency, balances[account].available, balances[account].pending_out)
        for account, currency in accounts.items()
        if account in balances
    ]


async def payout_overview(session: AsyncSession, partner_id: int, *, limit: int = 100) -> PayoutOverview:
    policy = await session.get(PayoutPolicy, partner_id)
    made = await session.scalars(
        select(Payout)
        .where(Payout.partner_id == partner_id)
        .order_by(Payout.created_at.desc(), Payout.id.desc())
        .limit(limit)
    )
    return PayoutOverview(
        frequency=None if policy is None else policy.frequency,
        minimum_amount=0 if policy is None else policy.minimum_amount,
        hold_for_review=False if policy is None else policy.hold_for_review,
        may_request=may_request(policy),
        payable=await payable_balances(session, partner_id),
        payouts=list(made.all()),
    )


async def request_payout(
    db: Database, partner_id: int, *, idempotency_key: str, actor: str, now: datetime | None = None
) -> list[Payout]:
    """The IB asks to be paid what is available now; refused when a schedule pays it."""
    if not KEY_SHAPE.match(idempotency_key or ""):
        raise PayoutError("The request has no valid idempotency key; reload the page and try again.")
    async with db.session() as session:
        policy = await session.get(PayoutPolicy, partner_id)
    if not may_request(policy):
        assert policy is not None
        raise PayoutError(f"Your commission is paid {policy.frequency}; payouts cannot be requested.")
    try:
        made = await payouts.pay_out(db, partner_id, now=now, request_key=idempotency_key, actor=actor)
    except IntegrityError:
        # The same request, sent twice at once, lost the race for its key: the other one paid,
        # and asking again answers what it made.
        made = await payouts.pay_out(db, partner_id, now=now, request_key=idempotency_key, actor=actor)
    if not made:
        raise PayoutError("There is nothing to pay out yet (or less than your minimum payout).")
    return made

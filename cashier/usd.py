"""USD equivalents for KYC deposit limits, which are stated in USD."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.models import UNFINISHED_PAYMENT_STATUSES, Deposit, DepositStatus
from core.clock import utcnow
from ledger.errors import RateNotFoundError
from ledger.fx import currency_scales, latest_rate, quote_sell

USD = "USD"
UNFINISHED_PAYMENT_COUNTS_FOR = timedelta(hours=24)
"""How long a card payment not yet final counts towards the KYC limit. Without an end, a client who
left the PSP's page (or whose request never reached the PSP) would be held at the limit for good;
a PSP's payment page expires well within a day. A wire awaiting review counts until it is decided."""


async def usd_equivalent(session: AsyncSession, amount: int, currency: str) -> int:
    """``amount`` of ``currency`` in USD minor units at the latest rate (mid, before spread).

    Without any rate for the pair the amount is taken at par after adjusting the scale, which
    errs towards the limit for the usual currencies (EUR, GBP, CHF are worth more than a dollar).
    """
    if currency == USD:
        return amount
    scales = await currency_scales(session, currency, USD)
    for base, quote in ((currency, USD), (USD, currency)):
        try:
            rate = await latest_rate(session, base, quote)
        except RateNotFoundError:
            continue
        return quote_sell(
            rate, sell_currency=currency, sell_amount=amount, buy_currency=USD, scales=scales
        ).mid_amount
    shift = scales[USD] - scales[currency]
    factor = int(10 ** abs(shift))
    return amount * factor if shift >= 0 else amount // factor


async def deposited_usd(session: AsyncSession, client_id: int) -> int:
    """What the client has deposited, in USD minor units: credited deposits at the amount credited,
    and open requests (a wire not yet reviewed; a PSP payment not yet final, for
    :data:`UNFINISHED_PAYMENT_COUNTS_FOR`) at the amount asked.

    A limit counts a deposit from the moment it is requested, so two requests made one after the
    other can't each fit under it on their own and together pass it once both are paid.
    """
    amount = case((Deposit.status == DepositStatus.CREDITED, Deposit.credited_amount), else_=Deposit.amount)
    unfinished_since = utcnow() - UNFINISHED_PAYMENT_COUNTS_FOR
    rows = (
        await session.execute(
            select(Deposit.currency, func.sum(amount))
            .where(
                Deposit.client_id == client_id,
                or_(
                    Deposit.status.in_([DepositStatus.CREDITED, DepositStatus.AWAITING_REVIEW]),
                    and_(
                        Deposit.status.in_(UNFINISHED_PAYMENT_STATUSES),
                        Deposit.created_at >= unfinished_since,
                    ),
                ),
            )
            .group_by(Deposit.currency)
        )
    ).all()
    return sum([await usd_equivalent(session, int(total or 0), code) for code, total in rows])

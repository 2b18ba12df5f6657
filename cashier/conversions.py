"""Currency conversion between two of the client's own wallets, through the ledger's FX.

The client first sees a quote: the rate row (its id, rate, spread and time) and what they would
get. Confirming sends the rate id back, so the conversion uses exactly the quoted rate, and a
retry with the same idempotency key posts the same journal (the ledger answers the original).
A quote older than :data:`QUOTE_VALIDITY` must be renewed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cashier.errors import InsufficientFundsError, InvalidAmountError, InvalidStateError, RateError
from cashier.models import InternalTransfer, TransferKind, TransferStatus
from cashier.rates import plain
from cashier.requests import clean_key
from cashier.transactions import lock_accounts, money_transaction
from cashier.wallets import house_accounts, wallet_account
from core.audit.service import Actor, record_audit
from core.clock import utcnow
from core.db import Database
from ledger.errors import RateNotFoundError
from ledger.fx import (
    FxQuote,
    FxRate,
    conversion_journal,
    currency_scales,
    latest_rate,
    quote_sell,
    rates_table,
)
from ledger.posting import post_batch
from ledger.reading import as_utc
from ledger.requests import Refusal

QUOTE_VALIDITY = timedelta(minutes=15)


@dataclass(frozen=True)
class ConversionQuote:
    """What the client is shown before confirming: the rate used and both amounts."""

    rate: FxRate
    quote: FxQuote


async def _rate_for(db: Database, sell: str, buy: str, rate_id: int | None) -> FxRate:
    async with db.session() as session:
        if rate_id is None:
            for base, quote in ((sell, buy), (buy, sell)):
                try:
                    found = await latest_rate(session, base, quote)
                except RateNotFoundError:
                    continue
                return replace(found, rate=plain(found.rate), spread=plain(found.spread))
            raise RateError(f"No exchange rate for {sell}/{buy} yet.")
        r = rates_table.c
        row = (
            await session.execute(
                select(r.id, r.base, r.quote, r.rate, r.spread, r.source, r.observed_at).where(
                    r.id == rate_id
                )
            )
        ).first()
    if row is None or {row.base, row.quote} != {sell, buy}:
        raise RateError("This quote is not valid; ask for a new one.")
    return FxRate(
        row.id,
        row.base,
        row.quote,
        plain(Decimal(str(row.rate))),
        plain(Decimal(str(row.spread))),
        row.source,
        as_utc(row.observed_at),
    )


async def quote_conversion(
    db: Database, *, sell_currency: str, buy_currency: str, sell_amount: int, rate_id: int | None = None
) -> ConversionQuote:
    if sell_currency == buy_currency:
        raise RateError("Choose two different currencies.")
    rate = await _rate_for(db, sell_currency, buy_currency, rate_id)
    async with db.session() as session:
        scales = await currency_scales(session, sell_currency, buy_currency)
    try:
        quote = quote_sell(
            rate,
            sell_currency=sell_currency,
            sell_amount=sell_amount,
            buy_currency=buy_currency,
            scales=scales,
        )
    except ValueError as exc:
        raise InvalidAmountError(str(exc)) from None
    if quote.buy_amount <= 0:
        raise InvalidAmountError("This amount is too small to convert.")
    return ConversionQuote(rate, quote)


async def convert(
    db: Database,
    *,
    client_id: int,
    sell_currency: str,
    buy_currency: str,
    sell_amount: int,
    rate_id: int,
    idempotency_key: str,
    actor: Actor,
) -> InternalTransfer:
    """Convert at the quoted rate: sell from one wallet, buy into the other, spread to the house."""
    key = clean_key(idempotency_key)
    async with db.session() as session:
        existing = await session.scalar(
            select(InternalTransfer).where(
                InternalTransfer.client_id == client_id, InternalTransfer.idempotency_key == key
            )
        )
    if existing is not None:
        return existing
    priced = await quote_conversion(
        db, sell_currency=sell_currency, buy_currency=buy_currency, sell_amount=sell_amount, rate_id=rate_id
    )
    if utcnow() - priced.rate.observed_at > QUOTE_VALIDITY:
        raise RateError("This quote has expired; ask for a new one.")
    try:
        async with money_transaction(db) as session:
            sell_wallet = await wallet_account(session, client_id, sell_currency)
            buy_wallet = await wallet_account(session, client_id, buy_currency)
            await lock_accounts(session, sell_wallet, buy_wallet)
            transfer = InternalTransfer(
                client_id=client_id,
                kind=TransferKind.CONVERSION,
                from_currency=sell_currency,
                from_amount=priced.quote.sell_amount,
                to_currency=buy_currency,
                to_amount=priced.quote.buy_amount,
                spread_amount=priced.quote.spread_amount,
                rate_id=priced.rate.id,
                rate=str(priced.rate.rate),
                spread=str(priced.rate.spread),
                status=TransferStatus.DONE,
                idempotency_key=key,
            )
            session.add(transfer)
            await session.flush()
            journal = conversion_journal(
                priced.quote,
                key=f"cashier:conversion:{transfer.id}",
                client_sell_account=sell_wallet,
                client_buy_account=buy_wallet,
                sell_house=await house_accounts(session, sell_currency),
                buy_house=await house_accounts(session, buy_currency),
            )
            results = await post_batch(session, [journal])
            if any(result.refusal is Refusal.INSUFFICIENT_FUNDS for result in results):
                raise InsufficientFundsError("Your available balance is not enough for this conversion.")
            if not all(result.ok for result in results):
                raise InvalidStateError(f"the ledger refused the conversion: {[r.refusal for r in results]}")
            await record_audit(
                session,
                actor,
                "cashier.conversion_done",
                target_type="transfer",
                target_id=transfer.id,
                after={
                    "sell": f"{transfer.from_amount} {sell_currency}",
                    "buy": f"{transfer.to_amount} {buy_currency}",
                    "rate_id": transfer.rate_id,
                    "rate": transfer.rate,
                    "spread": transfer.spread,
                },
            )
            return transfer
    except IntegrityError:
        async with db.session() as session:
            found = await session.scalar(
                select(InternalTransfer).where(
                    InternalTransfer.client_id == client_id, InternalTransfer.idempotency_key == key
                )
            )
        if found is None:
            raise
        return found


async def transfer_queue(
    db: Database, client_id: int | None = None, limit: int = 500
) -> list[InternalTransfer]:
    statement = select(InternalTransfer).order_by(InternalTransfer.id.desc()).limit(limit)
    if client_id is not None:
        statement = statement.where(InternalTransfer.client_id == client_id)
    async with db.session() as session:
        return list(await session.scalars(statement))

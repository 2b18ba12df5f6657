"""Currency conversion: immutable rate rows, legs through liquidity accounts, a separate spread.

A client converting USD to EUR produces one journal of three transfers:

1. USD: client's USD account -> FX liquidity USD, the amount sold;
2. EUR: FX liquidity EUR -> client's EUR account, the amount bought (mid minus spread);
3. EUR: FX liquidity EUR -> FX spread revenue EUR, the spread.

Each currency balances on its own, the liquidity accounts carry the house's position at the mid
rate, and the margin is visible as its own transfer. Every transfer records the rate row it used.

Rounding always favours the house, at three named points (each has a test):

* :func:`round_client_receives` — what the client gets is rounded down;
* :func:`round_client_pays` — what the client must sell for a fixed target is rounded up;
* :func:`round_mid_leg` — the liquidity leg at mid is rounded half-even; the spread is what is
  left between it and the client's amount, so it is never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.clock import utcnow
from ledger.chart import Purpose, SystemAccounts
from ledger.errors import InvalidRateError, RateNotFoundError, UnknownCurrencyError
from ledger.models import Currency
from ledger.models import FxRate as FxRateRow
from ledger.requests import MAX_AMOUNT, Journal, TransferRequest, posted
from ledger.storage import connection_of

DECIMAL_CONTEXT = Context(prec=60)
MAX_RATE_DIGITS = 30
rates_table: Table = FxRateRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class FxRate:
    """One observed rate: ``rate`` units of ``quote`` per one unit of ``base`` (major units)."""

    id: int
    base: str
    quote: str
    rate: Decimal
    spread: Decimal
    source: str
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class FxQuote:
    """A priced conversion, in minor units, ready to become a journal."""

    rate_id: int
    sell_currency: str
    sell_amount: int
    buy_currency: str
    buy_amount: int
    """What the client receives."""
    mid_amount: int
    """What the liquidity account pays out: the sold amount at the mid rate."""

    @property
    def spread_amount(self) -> int:
        return self.mid_amount - self.buy_amount


def round_client_receives(exact_minor: Decimal) -> int:
    """ROUNDING POINT: the client's bought amount is rounded down (house keeps the fraction)."""
    return int(exact_minor.to_integral_value(rounding=ROUND_FLOOR))


def round_client_pays(exact_minor: Decimal) -> int:
    """ROUNDING POINT: the amount the client must sell for a fixed target is rounded up."""
    return int(exact_minor.to_integral_value(rounding=ROUND_CEILING))


def round_mid_leg(exact_minor: Decimal) -> int:
    """ROUNDING POINT: the liquidity leg at mid, half-even (no bias either way on the position)."""
    return int(exact_minor.to_integral_value(rounding=ROUND_HALF_EVEN))


def _check_decimal(value: Decimal, name: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidRateError(f"{name} must be a finite Decimal, not {value!r}")
    if len(value.as_tuple().digits) > MAX_RATE_DIGITS:
        raise InvalidRateError(f"{name} has more than {MAX_RATE_DIGITS} digits")
    return value


async def _scales(connection: AsyncConnection, *codes: str) -> dict[str, int]:
    rows = (
        await connection.execute(select(Currency.code, Currency.scale).where(Currency.code.in_(codes)))
    ).all()
    scales = {code: int(scale) for code, scale in rows}
    missing = set(codes) - set(scales)
    if missing:
        raise UnknownCurrencyError(f"unknown currency {sorted(missing)}")
    return scales


async def record_rate(
    connection: AsyncConnection | AsyncSession,
    *,
    base: str,
    quote: str,
    rate: Decimal,
    spread: Decimal,
    source: str,
    observed_at: datetime,
) -> FxRate:
    """Store an observed rate. Rates are never edited: a new observation is a new row."""
    conn = await connection_of(connection)
    _check_decimal(rate, "rate")
    _check_decimal(spread, "spread")
    if rate <= 0:
        raise InvalidRateError("rate must be positive")
    if not Decimal(0) <= spread < Decimal(1):
        raise InvalidRateError("spread must be at least 0 and below 1")
    if base == quote:
        raise InvalidRateError("a rate needs two different currencies")
    await _scales(conn, base, quote)
    observed_at = observed_at.astimezone(UTC)
    stored_rate: object = str(rate) if conn.dialect.name == "sqlite" else rate
    stored_spread: object = str(spread) if conn.dialect.name == "sqlite" else spread
    result = await conn.execute(
        rates_table.insert()
        .values(
            base=base,
            quote=quote,
            rate=stored_rate,
            spread=stored_spread,
            source=source,
            observed_at=observed_at,
            created_at=utcnow(),
        )
        .returning(rates_table.c.id)
    )
    return FxRate(result.scalar_one(), base, quote, rate, spread, source, observed_at)


async def latest_rate(
    connection: AsyncConnection | AsyncSession, base: str, quote: str, *, at: datetime | None = None
) -> FxRate:
    """The newest rate for the pair observed at or before ``at`` (now by default)."""
    conn = await connection_of(connection)
    moment = (at or utcnow()).astimezone(UTC)
    r = rates_table.c
    row = (
        await conn.execute(
            select(r.id, r.base, r.quote, r.rate, r.spread, r.source, r.observed_at)
            .where(r.base == base, r.quote == quote, r.observed_at <= moment)
            .order_by(r.observed_at.desc(), r.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        raise RateNotFoundError(f"no {base}/{quote} rate at {moment.isoformat()}")
    observed = row.observed_at if row.observed_at.tzinfo else row.observed_at.replace(tzinfo=UTC)
    return FxRate(
        row.id, row.base, row.quote, Decimal(str(row.rate)), Decimal(str(row.spread)), row.source, observed
    )


def _is_forward(rate: FxRate, sell_currency: str, buy_currency: str) -> bool:
    """True when the client sells the rate's base currency, False when it sells the quote currency."""
    if (sell_currency, buy_currency) == (rate.base, rate.quote):
        return True
    if (sell_currency, buy_currency) == (rate.quote, rate.base):
        return False
    raise InvalidRateError(f"rate {rate.base}/{rate.quote} does not price {sell_currency}->{buy_currency}")


def _at_mid(rate: FxRate, forward: bool, sell_major: Decimal) -> Decimal:
    """The bought currency's major units for ``sell_major`` at mid; divides rather than inverting
    the rate first, so an exact result stays exact."""
    return sell_major * rate.rate if forward else sell_major / rate.rate


def _sold_for(rate: FxRate, forward: bool, buy_major: Decimal) -> Decimal:
    """The sold currency's major units the client must give for ``buy_major`` after the spread."""
    keep = Decimal(1) - rate.spread
    return buy_major / (rate.rate * keep) if forward else buy_major * rate.rate / keep


def _checked_amount(amount: int) -> int:
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise ValueError("an amount is a positive int of minor units")
    return amount


def quote_sell(
    rate: FxRate, *, sell_currency: str, sell_amount: int, buy_currency: str, scales: dict[str, int]
) -> FxQuote:
    """Price selling exactly ``sell_amount`` (minor units): how much the client gets."""
    _checked_amount(sell_amount)
    forward = _is_forward(rate, sell_currency, buy_currency)
    with localcontext(DECIMAL_CONTEXT):
        sell_major = Decimal(sell_amount).scaleb(-scales[sell_currency])
        mid_minor = _at_mid(rate, forward, sell_major).scaleb(scales[buy_currency])
        client_minor = mid_minor * (Decimal(1) - rate.spread)
    return FxQuote(
        rate.id,
        sell_currency,
        sell_amount,
        buy_currency,
        round_client_receives(client_minor),
        round_mid_leg(mid_minor),
    )


def quote_buy(
    rate: FxRate, *, sell_currency: str, buy_currency: str, buy_amount: int, scales: dict[str, int]
) -> FxQuote:
    """Price receiving exactly ``buy_amount`` (minor units): how much the client must sell."""
    _checked_amount(buy_amount)
    forward = _is_forward(rate, sell_currency, buy_currency)
    with localcontext(DECIMAL_CONTEXT):
        buy_major = Decimal(buy_amount).scaleb(-scales[buy_currency])
        sell_amount = round_client_pays(_sold_for(rate, forward, buy_major).scaleb(scales[sell_currency]))
        sell_major = Decimal(sell_amount).scaleb(-scales[sell_currency])
        mid_minor = _at_mid(rate, forward, sell_major).scaleb(scales[buy_currency])
    return FxQuote(rate.id, sell_currency, sell_amount, buy_currency, buy_amount, round_mid_leg(mid_minor))


async def currency_scales(connection: AsyncConnection | AsyncSession, *codes: str) -> dict[str, int]:
    """The scale (minor-unit digits) of each currency named."""
    return await _scales(await connection_of(connection), *codes)


def conversion_journal(
    quote: FxQuote,
    *,
    key: str,
    client_sell_account: int,
    client_buy_account: int,
    sell_house: SystemAccounts,
    buy_house: SystemAccounts,
    code: str = "fx",
) -> Journal:
    """The all-or-nothing journal of a conversion: two legs and, when there is one, the spread."""
    if quote.buy_amount <= 0:
        raise ValueError("the conversion is too small: the client would receive nothing")
    transfers: list[TransferRequest] = [
        posted(
            f"{key}:sell",
            debit=client_sell_account,
            credit=sell_house[Purpose.FX_LIQUIDITY],
            amount=quote.sell_amount,
            currency=quote.sell_currency,
            code=code,
            rate_id=quote.rate_id,
        ),
        posted(
            f"{key}:buy",
            debit=buy_house[Purpose.FX_LIQUIDITY],
            credit=client_buy_account,
            amount=quote.buy_amount,
            currency=quote.buy_currency,
            code=code,
            rate_id=quote.rate_id,
        ),
    ]
    if quote.spread_amount > 0:
        transfers.append(
            posted(
                f"{key}:spread",
                debit=buy_house[Purpose.FX_LIQUIDITY],
                credit=buy_house[Purpose.FX_SPREAD_REVENUE],
                amount=quote.spread_amount,
                currency=quote.buy_currency,
                code=f"{code}_spread",
                rate_id=quote.rate_id,
            )
        )
    return Journal(transfers)

"""Amounts in any currency as report-currency minor units, inside SQL.

Each currency's latest stored rate against the report currency (either direction, mid, before
spread) becomes an integer fraction ``num/den`` of minor units; the SQL multiplies a summed amount
by it as ``(a / den) * num + ((a % den) * num) / den``, which is exact integer arithmetic truncated
towards zero on both PostgreSQL and SQLite and cannot overflow BIGINT for real-world amounts.

The fraction is the rate's nearest with a denominator of at most 10⁶ (a relative error below
10⁻¹², far under one minor unit). A currency without any rate is taken at par after adjusting its
scale, as :mod:`cashier.usd` does; a code missing from the currency table is taken to have 2 places.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, case, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.errors import RateNotFoundError
from ledger.fx import latest_rate
from ledger.models import Currency

MAX_DENOMINATOR = 1_000_000
DEFAULT_SCALE = 2


@dataclass(frozen=True)
class Conversion:
    """Minor units of each currency to minor units of ``target``."""

    target: str
    factors: dict[str, Fraction]
    """Currencies other than the target; a currency not here is taken 1:1."""

    def apply(self, amount: ColumnElement[Any], currency: ColumnElement[Any]) -> ColumnElement[Any]:
        """``amount`` (a summed integer column) converted, as SQL."""
        whens = []
        for code, factor in sorted(self.factors.items()):
            if factor == 1:
                continue
            num, den = literal(factor.numerator), literal(factor.denominator)
            whens.append((currency == code, (amount // den) * num + ((amount % den) * num) // den))
        if not whens:
            return amount
        return case(*whens, else_=amount)

    def convert(self, amount: int, currency: str) -> int:
        """The same conversion in Python, truncated towards zero like the SQL."""
        factor = self.factors.get(currency, Fraction(1))
        exact = amount * factor
        return int(exact) if exact >= 0 else -int(-exact)


async def _scales(session: AsyncSession) -> dict[str, int]:
    return {code: int(scale) for code, scale in await session.execute(select(Currency.code, Currency.scale))}


async def conversion_to(
    session: AsyncSession, target: str, currencies: Iterable[str], at: datetime
) -> Conversion:
    """The factors that bring each of ``currencies`` to ``target`` at the rates known at ``at``."""
    scales = await _scales(session)
    target_scale = scales.get(target, DEFAULT_SCALE)
    factors: dict[str, Fraction] = {}
    for code in sorted(set(currencies) - {target}):
        shift = Fraction(10) ** (target_scale - scales.get(code, DEFAULT_SCALE))
        major = Fraction(1)
        try:
            major = Fraction((await latest_rate(session, code, target, at=at)).rate)
        except RateNotFoundError:
            with suppress(RateNotFoundError):
                major = 1 / Fraction((await latest_rate(session, target, code, at=at)).rate)
        factors[code] = (major * shift).limit_denominator(MAX_DENOMINATOR)
    return Conversion(target, factors)

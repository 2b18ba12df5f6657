"""SQL pieces the reports share, written once for PostgreSQL and SQLite."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric, Subquery, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from kyc.models import KycProfileVersion

VOLUME_SCALE = 8
"""SQLite sums lots as integers of 10⁻⁸ lot (MT5's finest volume step), so no float adds them."""


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def day_of(column: Any, dialect: str) -> Any:
    """The UTC day of a timestamp as ``YYYY-MM-DD`` text, the same on both databases."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def lots_sum(column: Any, dialect: str) -> Any:
    """The exact sum of a text column of decimal lots (``mt_deal.volume``)."""
    if dialect == "postgresql":
        return func.sum(cast(column, Numeric))
    scaled = func.round(cast(column, Numeric) * literal(10**VOLUME_SCALE))
    return func.sum(cast(scaled, Integer))


def tidy(value: Decimal) -> Decimal:
    """``1.50000000`` as ``1.5`` and ``1E+2`` as ``100``: the same text on both databases."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else value


def lots_value(total: object, dialect: str) -> Decimal:
    if total is None:
        return Decimal(0)
    if dialect == "postgresql":
        return tidy(Decimal(str(total)))
    return tidy(Decimal(int(str(total))).scaleb(-VOLUME_SCALE))


def latest_countries() -> Subquery:
    """Each client's country of residence from the newest version of its KYC profile."""
    newest = (
        select(KycProfileVersion.client_id, func.max(KycProfileVersion.version).label("version"))
        .group_by(KycProfileVersion.client_id)
        .subquery("newest_profile")
    )
    return (
        select(KycProfileVersion.client_id, KycProfileVersion.country_of_residence.label("country"))
        .join(
            newest,
            (newest.c.client_id == KycProfileVersion.client_id)
            & (newest.c.version == KycProfileVersion.version),
        )
        .subquery("client_country")
    )

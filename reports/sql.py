"""SQL pieces the reports share, written once for PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric, Select, Subquery, cast, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from kyc.models import KycProfileVersion

VOLUME_SCALE = 8
"""SQLite sums lots as integers of 10⁻⁸ lot (MT5's finest volume step), so no float adds them."""


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


DAY_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def day_of(column: Any, dialect: str) -> Any:
    """The UTC day of a timestamp: on PostgreSQL the day's first moment (``date_bin``, plain
    arithmetic: no time-zone lookup or text per row, which a year of deals feels), on SQLite its
    ``YYYY-MM-DD`` text. :func:`day_label` reads either as ``YYYY-MM-DD``."""
    if dialect == "postgresql":
        return func.date_bin(literal(timedelta(days=1)), column, literal(DAY_ORIGIN))
    return func.strftime("%Y-%m-%d", column)


def day_label(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat()
    return str(value)


async def tune_for_reports(session: AsyncSession) -> None:
    """PostgreSQL: memory for the reports' sorts and hashes, and no JIT (its compile time costs
    more than it saves on these one-off aggregates); for this transaction only."""
    if dialect_of(session) == "postgresql":
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        await session.execute(text("SET LOCAL jit = off"))


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


Build = Callable[[list[Any]], Select[Any]]


async def grouped(
    session: AsyncSession,
    build: Build,
    keys: Mapping[str, Any],
    sets: Sequence[Sequence[str]],
    measures: Sequence[Any],
) -> dict[tuple[str, ...], list[tuple[Any, ...]]]:
    """The same measures grouped several ways, as ``{set: [(key values…, measures…)]}``.

    ``build(columns)`` makes the select (its FROM, joins and WHERE) for the given columns; each set
    names keys in ``keys`` order (``()`` is the whole range). PostgreSQL answers all sets in one
    scan with GROUPING SETS; SQLite, which has none, gets one grouped query per set.
    """
    names = list(keys)
    out: dict[tuple[str, ...], list[tuple[Any, ...]]] = {tuple(s): [] for s in sets}
    if dialect_of(session) != "postgresql":
        for wanted in sets:
            columns = [keys[name] for name in wanted]
            query = build([*columns, *measures])
            if columns:
                query = query.group_by(*columns)
            out[tuple(wanted)] = [tuple(row) for row in await session.execute(query)]
        return out
    flags = [func.grouping(keys[name]) for name in names]
    group_sets = [tuple_(*(keys[name] for name in wanted)) if wanted else text("()") for wanted in sets]
    query = build([*keys.values(), *flags, *measures]).group_by(func.grouping_sets(*group_sets))
    width = len(names)
    for row in await session.execute(query):
        present = tuple(name for name, flag in zip(names, row[width : 2 * width], strict=True) if flag == 0)
        values = [row[names.index(name)] for name in present]
        out[present].append((*values, *row[2 * width :]))
    return out

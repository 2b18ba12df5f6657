"""KYC backlog and review times.

The backlog is the cases waiting for compliance now (submitted, or awaiting a second reviewer),
with the age of each since it was submitted. Review times are of the cases decided (approved or
rejected) in the range: from the case's last submission to its decision, in hours to one decimal,
rounded half up; the median is the lower middle value.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median_low
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from kyc.models import CaseStatus, KycCase
from reports.sql import day_label, day_of, dialect_of, grouped
from reports.table import Chart, Column, Kind, Report, Row, Table, fill_days
from reports.window import Window

WAITING = (CaseStatus.SUBMITTED, CaseStatus.AWAITING_SECOND_REVIEW)
DECIDED = (CaseStatus.APPROVED, CaseStatus.REJECTED)
AGE_BUCKETS = (
    ("under 1 day", 1),
    ("1 to 3 days", 3),
    ("3 to 7 days", 7),
    ("over 7 days", None),
)


def hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _percentile_low(values: list[int], percent: int) -> int:
    """The nearest-rank percentile (PostgreSQL's ``percentile_disc``)."""
    ordered = sorted(values)
    index = max(0, -(-len(ordered) * percent // 100) - 1)
    return ordered[index]


def review_row(
    decided: int, approved: int, rejected: int, median: int | None, p90: int | None, total: int, timed: int
) -> Row:
    """Figures of some decided cases; ``median``/``p90`` and ``total`` (over ``timed`` cases with a
    submission time) are seconds."""
    zero = Decimal("0.0")
    average = (
        (Decimal(total) / timed / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if timed else zero
    )
    return {
        "decided": decided,
        "approved": approved,
        "rejected": rejected,
        "median_hours": hours(median) if median is not None else zero,
        "p90_hours": hours(p90) if p90 is not None else zero,
        "average_hours": average,
    }


def review_figures(items: list[tuple[str, int | None]]) -> Row:
    """``(status, seconds or None)`` of decided cases, as one :func:`review_row`."""
    durations = [seconds for _, seconds in items if seconds is not None]
    return review_row(
        len(items),
        sum(1 for status, _ in items if status == CaseStatus.APPROVED),
        sum(1 for status, _ in items if status == CaseStatus.REJECTED),
        int(median_low(durations)) if durations else None,
        _percentile_low(durations, 90) if durations else None,
        sum(durations),
        len(durations),
    )


def _decided_in(window: Window) -> tuple[Any, ...]:
    return (
        KycCase.status.in_(DECIDED),
        KycCase.decided_at >= window.starts_at,
        KycCase.decided_at < window.ends_at,
    )


async def _reviews_in_sql(session: AsyncSession, window: Window) -> tuple[Row, list[Row]]:
    """PostgreSQL: the figures per day and for the range in one grouped query."""
    seconds = func.floor(func.extract("epoch", KycCase.decided_at - KycCase.submitted_at)).label("seconds")
    cases = select(KycCase.status, KycCase.decided_at, seconds).where(*_decided_in(window)).subquery()

    def build(columns: list[Any]) -> Any:
        return select(*columns).select_from(cases)

    sets = await grouped(
        session,
        build,
        {"day": day_of(cases.c.decided_at, "postgresql")},
        [("day",), ()],
        [
            func.count(),
            func.count().filter(cases.c.status == CaseStatus.APPROVED),
            func.count().filter(cases.c.status == CaseStatus.REJECTED),
            func.percentile_disc(0.5).within_group(cases.c.seconds),
            func.percentile_disc(0.9).within_group(cases.c.seconds),
            func.coalesce(func.sum(cases.c.seconds), 0),
            func.count(cases.c.seconds),
        ],
    )

    def row(values: tuple[Any, ...]) -> Row:
        decided, approved, rejected, median, p90, total, timed = values
        return review_row(
            int(decided),
            int(approved),
            int(rejected),
            None if median is None else int(median),
            None if p90 is None else int(p90),
            int(total),
            int(timed),
        )

    overall = [row(values) for values in sets[()]]
    by_day = sorted(
        ({"day": day_label(day), **row(tuple(rest))} for day, *rest in sets[("day",)]), key=lambda r: r["day"]
    )
    return (overall[0] if overall else review_figures([])), by_day


async def _reviews_in_python(session: AsyncSession, window: Window) -> tuple[Row, list[Row]]:
    """SQLite (no percentiles): the decided cases read and summed here."""
    per_day: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for status, submitted_at, decided_at in await session.execute(
        select(KycCase.status, KycCase.submitted_at, KycCase.decided_at).where(*_decided_in(window))
    ):
        assert decided_at is not None  # the query asked for a decision time in the range
        duration = (
            int((as_utc(decided_at) - as_utc(submitted_at)).total_seconds())
            if submitted_at is not None
            else None
        )
        per_day[as_utc(decided_at).date().isoformat()].append((str(status), duration))
    everything = [item for items in per_day.values() for item in items]
    by_day = [{"day": day, **review_figures(items)} for day, items in sorted(per_day.items())]
    return review_figures(everything), by_day


async def kyc_report(session: AsyncSession, window: Window, now: datetime) -> Report:
    waiting = list(
        await session.execute(
            select(KycCase.status, func.count(), func.min(KycCase.submitted_at))
            .where(KycCase.status.in_(WAITING))
            .group_by(KycCase.status)
        )
    )
    counts = {
        str(status): (int(count), as_utc(oldest) if oldest is not None else None)
        for status, count, oldest in waiting
    }
    backlog: list[Row] = []
    for status in WAITING:
        count, oldest = counts.get(str(status), (0, None))
        backlog.append(
            {
                "status": str(status),
                "cases": count,
                "oldest": oldest,
                "oldest_hours": hours(int((now - oldest).total_seconds())) if oldest else Decimal("0.0"),
            }
        )
    ages: dict[str, int] = {}
    lower: int | None = None
    for label, days in AGE_BUCKETS:
        conditions: list[Any] = [KycCase.status.in_(WAITING), KycCase.submitted_at.is_not(None)]
        if days is not None:
            conditions.append(KycCase.submitted_at > now - timedelta(days=days))
        if lower is not None:
            conditions.append(KycCase.submitted_at <= now - timedelta(days=lower))
        ages[label] = int(await session.scalar(select(func.count()).where(*conditions)) or 0)
        lower = days
    reviews = _reviews_in_sql if dialect_of(session) == "postgresql" else _reviews_in_python
    overall, by_day = await reviews(session, window)
    review_columns = (
        Column("decided", "Decided", Kind.COUNT),
        Column("approved", "Approved", Kind.COUNT),
        Column("rejected", "Rejected", Kind.COUNT),
        Column("median_hours", "Median review (hours)", Kind.HOURS),
        Column("p90_hours", "90th percentile (hours)", Kind.HOURS),
        Column("average_hours", "Average review (hours)", Kind.HOURS),
    )
    return Report(
        "kyc",
        "KYC backlog and review times",
        "Cases waiting for compliance now, and how long the cases decided in the range took.",
        window,
        [
            Table(
                "backlog",
                "Waiting now",
                (
                    Column("status", "Status", Kind.LABEL),
                    Column("cases", "Cases", Kind.COUNT),
                    Column("oldest", "Oldest submitted (UTC)", Kind.MOMENT),
                    Column("oldest_hours", "Oldest waits (hours)", Kind.HOURS),
                ),
                backlog,
            ),
            Table(
                "backlog_age",
                "Backlog by age",
                (Column("age", "Waiting for", Kind.LABEL), Column("cases", "Cases", Kind.COUNT)),
                [{"age": label, "cases": ages.get(label, 0)} for label, _ in AGE_BUCKETS],
                Chart("bar", "age", ("cases",)),
            ),
            Table("reviews", "Reviews in the range", review_columns, [overall]),
            Table(
                "reviews_by_day",
                "Reviews by day",
                (Column("day", "Day"), *review_columns),
                fill_days(window, by_day, [], review_figures([])),
                Chart("line", "day", ("decided", "median_hours")),
            ),
        ],
    )

"""KYC backlog and review times.

The backlog is the cases waiting for compliance now (submitted, or awaiting a second reviewer),
with the age of each since it was submitted. Review times are of the cases decided (approved or
rejected) in the range: from the case's last submission to its decision, in hours to one decimal,
rounded half up; the median is the lower middle value.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import median_low

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from kyc.models import CaseStatus, KycCase
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
DAY_SECONDS = 86_400


def hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def bucket_of(age_seconds: int) -> str:
    for label, days in AGE_BUCKETS:
        if days is None or age_seconds < days * DAY_SECONDS:
            return label
    return AGE_BUCKETS[-1][0]


def _percentile_low(values: list[int], percent: int) -> int:
    ordered = sorted(values)
    index = max(0, -(-len(ordered) * percent // 100) - 1)
    return ordered[index]


def review_figures(durations: list[int]) -> dict[str, Decimal]:
    if not durations:
        zero = Decimal("0.0")
        return {"median_hours": zero, "p90_hours": zero, "average_hours": zero}
    return {
        "median_hours": hours(int(median_low(durations))),
        "p90_hours": hours(_percentile_low(durations, 90)),
        "average_hours": hours(round(sum(durations) / len(durations))),
    }


async def kyc_report(session: AsyncSession, window: Window, now: datetime) -> Report:
    waiting = list(
        await session.execute(select(KycCase.status, KycCase.submitted_at).where(KycCase.status.in_(WAITING)))
    )
    backlog: list[Row] = []
    for status in WAITING:
        submitted = [as_utc(at) for s, at in waiting if s == status and at is not None]
        oldest = min(submitted) if submitted else None
        backlog.append(
            {
                "status": str(status),
                "cases": sum(1 for s, _ in waiting if s == status),
                "oldest": oldest,
                "oldest_hours": hours(int((now - oldest).total_seconds())) if oldest else Decimal("0.0"),
            }
        )
    ages: dict[str, int] = defaultdict(int)
    for _, at in waiting:
        if at is not None:
            ages[bucket_of(int((now - as_utc(at)).total_seconds()))] += 1
    decided = list(
        await session.execute(
            select(KycCase.status, KycCase.submitted_at, KycCase.decided_at).where(
                KycCase.status.in_(DECIDED),
                KycCase.decided_at >= window.starts_at,
                KycCase.decided_at < window.ends_at,
            )
        )
    )
    per_day: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for status, submitted_at, decided_at in decided:
        assert decided_at is not None  # the query asked for a decision time in the range
        duration = (
            int((as_utc(decided_at) - as_utc(submitted_at)).total_seconds())
            if submitted_at is not None
            else None
        )
        per_day[as_utc(decided_at).date().isoformat()].append((str(status), duration))

    def figures(items: list[tuple[str, int | None]]) -> Row:
        return {
            "decided": len(items),
            "approved": sum(1 for status, _ in items if status == CaseStatus.APPROVED),
            "rejected": sum(1 for status, _ in items if status == CaseStatus.REJECTED),
            **review_figures([d for _, d in items if d is not None]),
        }

    all_items = [item for items in per_day.values() for item in items]
    by_day = [{"day": day, **figures(items)} for day, items in sorted(per_day.items())]
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
            Table("reviews", "Reviews in the range", review_columns, [figures(all_items)]),
            Table(
                "reviews_by_day",
                "Reviews by day",
                (Column("day", "Day"), *review_columns),
                fill_days(window, by_day, [], figures([])),
                Chart("line", "day", ("decided", "median_hours")),
            ),
        ],
    )

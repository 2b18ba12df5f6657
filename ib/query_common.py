"""Small shapes every IB portal query shares: a page of rows, a date window, a period's SQL key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, func
from sqlalchemy.ext.asyncio import AsyncSession

from ib.timeutil import aware

T = TypeVar("T")
AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])
"""A SELECT of any columns, kept as its own type through a filter that adds WHERE clauses."""
MAX_PER_PAGE = 200
Grain = Literal["day", "month"]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows, numbered from 1, and how many rows match in all."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True)
class Window:
    """Deal time in ``[start, end)``; either end open."""

    start: datetime | None = None
    end: datetime | None = None

    def apply(self, statement: AnySelect, column: SQLColumnExpression[datetime]) -> AnySelect:
        if self.start is not None:
            statement = statement.where(column >= aware(self.start))
        if self.end is not None:
            statement = statement.where(column < aware(self.end))
        return statement


def page_bounds(page: int, per_page: int) -> tuple[int, int]:
    """``(offset, limit)`` of a 1-based page, with the page size held to :data:`MAX_PER_PAGE`."""
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    return (max(page, 1) - 1) * per_page, per_page


def day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(moment: datetime) -> datetime:
    return day_start(moment).replace(day=1)


def next_day(moment: datetime) -> datetime:
    return day_start(moment) + timedelta(days=1)


def period_key(
    session: AsyncSession, column: SQLColumnExpression[datetime], grain: Grain
) -> ColumnElement[str]:
    """SQL giving the UTC day (``2026-11-02``) or month (``2026-11``) of a timestamp, on either database."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d" if grain == "day" else "%Y-%m", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD" if grain == "day" else "YYYY-MM")

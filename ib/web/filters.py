"""The query parameters the IB pages and the IB API share, read once as dependencies so both answer
the same filters the same way (and the API's schema documents them). A malformed value is a 400 that
says what to type; it never widens what the IB sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import Parameter

from core import clock
from core.ids import BIGINT_MAX
from ib.commission_queries import LineFilter
from ib.network_queries import DealFilter
from ib.query_common import Grain, Window, day_start, month_start

BAD_DATE = "Enter dates as YYYY-MM-DD, such as 2026-11-02."
BAD_RANGE = "The end date can't be before the start date."
MAX_SYMBOL = 64


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days from ``first`` to ``last`` inclusive, as typed; ``window`` is ``[start, end)``."""

    first: date | None
    last: date | None

    @property
    def window(self) -> Window:
        start = None if self.first is None else datetime.combine(self.first, datetime.min.time(), tzinfo=UTC)
        end = (
            None
            if self.last is None
            else datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        )
        return Window(start, end)


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int


def _day(raw: str | None) -> date | None:
    if raw is None or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationException(BAD_DATE) from None


def _symbol(raw: str | None) -> str | None:
    cleaned = (raw or "").strip().upper()[:MAX_SYMBOL]
    return cleaned or None


async def provide_range(
    start: Annotated[str | None, Parameter(description="First UTC day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, Parameter(description="Last UTC day (inclusive), YYYY-MM-DD")] = None,
) -> DateRange:
    dates = DateRange(_day(start), _day(end))
    if dates.first and dates.last and dates.last < dates.first:
        raise ValidationException(BAD_RANGE)
    return dates


async def provide_month_range(
    start: Annotated[str | None, Parameter(description="First UTC day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, Parameter(description="Last UTC day (inclusive), YYYY-MM-DD")] = None,
) -> DateRange:
    """Like :func:`provide_range`, but always closed: an empty start is the first of this month, an
    empty end is today (volumes and statistics are always over a known window)."""
    now = clock.utcnow()
    first = _day(start) or month_start(now).date()
    last = _day(end) or day_start(now).date()
    if last < first:
        raise ValidationException(BAD_RANGE)
    return DateRange(first, last)


async def provide_paging(
    page: Annotated[int, Parameter(ge=1, le=100_000, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Parameter(ge=1, le=200, description="Rows per page")] = 50,
) -> Paging:
    return Paging(page, per_page)


async def provide_line_filter(
    dates: NamedDependency[DateRange],
    level: Annotated[int | None, Parameter(ge=1, le=64, description="Level above the trader")] = None,
    symbol: Annotated[str | None, Parameter(description="Symbol, such as EURUSD")] = None,
    client: Annotated[int | None, Parameter(ge=1, le=BIGINT_MAX, description="Trading client's id")] = None,
) -> LineFilter:
    window = dates.window
    return LineFilter(
        start=window.start, end=window.end, level=level, symbol=_symbol(symbol), client_id=client
    )


async def provide_deal_filter(
    dates: NamedDependency[DateRange],
    symbol: Annotated[str | None, Parameter(description="Symbol, such as EURUSD")] = None,
    client: Annotated[int | None, Parameter(ge=1, le=BIGINT_MAX, description="Client id")] = None,
    login: Annotated[int | None, Parameter(ge=1, le=BIGINT_MAX, description="Trading login")] = None,
) -> DealFilter:
    window = dates.window
    return DealFilter(
        start=window.start, end=window.end, symbol=_symbol(symbol), client_id=client, login=login
    )


async def provide_grain(
    period: Annotated[str, Parameter(description="Group statistics by 'day' or 'month'")] = "day",
) -> Grain:
    if period not in ("day", "month"):
        raise ValidationException("Group statistics by day or by month.")
    return "day" if period == "day" else "month"


FILTERS = {
    "dates": Provide(provide_range),
    "paging": Provide(provide_paging),
    "line_filter": Provide(provide_line_filter),
    "deal_filter": Provide(provide_deal_filter),
    "grain": Provide(provide_grain),
}
"""Every handler may ask for any of these by name; only the ones it asks for are read."""

MONTH_FILTERS = {**FILTERS, "dates": Provide(provide_month_range)}
"""The same, where an empty date range means this month (volumes and statistics)."""

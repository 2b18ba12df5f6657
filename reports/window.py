"""The date range every report covers: whole UTC days, ``from`` and ``to`` both included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from reports.errors import InvalidWindowError

DEFAULT_DAYS = 30
"""With no dates given, a report covers the last 30 days, today included."""
MAX_DAYS = 400
"""The widest range one report may cover: a year and a bit, so a year over year still fits."""


@dataclass(frozen=True)
class Window:
    first_day: date
    last_day: date

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first_day, time(), tzinfo=UTC)

    @property
    def ends_at(self) -> datetime:
        """The first moment after the range (exclusive)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def days(self) -> list[str]:
        """Every day of the range as ``YYYY-MM-DD``, so a quiet day shows as zero, not as a gap."""
        count = (self.last_day - self.first_day).days + 1
        return [(self.first_day + timedelta(days=n)).isoformat() for n in range(count)]

    def as_params(self) -> dict[str, str]:
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}


def default_window(today: date) -> Window:
    return Window(today - timedelta(days=DEFAULT_DAYS - 1), today)


def _day(text: str | None, field: str, label: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidWindowError(field, f"The {label} must be a date such as 2026-11-30.") from None


def parse_window(from_text: str | None, to_text: str | None, today: date) -> Window:
    """The range typed in a report's form; an empty field takes its default (``to`` today, ``from``
    30 days before ``to``). Refuses text that is not a date, an end before the start, an end in
    the future and a range longer than :data:`MAX_DAYS`."""
    last = _day(to_text, "to", "end date") if (to_text or "").strip() else today
    first = (
        _day(from_text, "from", "start date")
        if (from_text or "").strip()
        else last - timedelta(days=DEFAULT_DAYS - 1)
    )
    if last < first:
        raise InvalidWindowError("to", "The end date is before the start date.")
    if last > today:
        raise InvalidWindowError("to", "The end date is in the future.")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidWindowError(
            "from", f"A report covers at most {MAX_DAYS} days; choose a later start date."
        )
    return Window(first, last)

"""SQLite hands back naive timestamps (stored as UTC); the IB code compares aware ones only."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)

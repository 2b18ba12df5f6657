"""The one place that reads the current time, so tests can move it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
"""How far this process's clock is set from the real one; only :func:`set_to` changes it."""


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC) + _offset


def as_utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC; SQLite hands back naive datetimes that were stored as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextlib.contextmanager
def set_to(moment: datetime) -> Iterator[None]:
    """Run the block with this process's clock at ``moment`` (it keeps ticking from there).

    For the demo's seeders, which build months of history by running the real services at past
    moments, before any other thread starts. Process-wide, so never while requests are served.
    """
    global _offset
    previous = _offset
    _offset = as_utc(moment) - datetime.now(UTC)
    try:
        yield
    finally:
        _offset = previous

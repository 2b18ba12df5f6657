"""Server clocks: MT servers stamp times on their own clock; we keep UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mt_bridge.server_time import ServerClock


def test_server_seconds_and_utc_round_trip_with_an_offset() -> None:
    clock = ServerClock(timedelta(hours=3))
    instant = datetime(2024, 6, 1, 9, 30, 15, tzinfo=UTC)
    server_seconds = clock.server_seconds_from_utc(instant)
    assert server_seconds == int(datetime(2024, 6, 1, 12, 30, 15, tzinfo=UTC).timestamp())
    assert clock.utc_from_server_seconds(server_seconds) == instant


def test_other_time_zones_are_converted_first() -> None:
    clock = ServerClock(timedelta(0))
    tokyo = datetime(2024, 6, 1, 18, 0, tzinfo=timezone(timedelta(hours=9)))
    assert clock.utc_from_server_seconds(clock.server_seconds_from_utc(tokyo)) == tokyo.astimezone(UTC)


def test_fractions_of_a_second_round_down() -> None:
    clock = ServerClock(timedelta(hours=2))
    instant = datetime(2024, 6, 1, 0, 0, 0, 999_000, tzinfo=UTC)
    assert clock.utc_from_server_seconds(clock.server_seconds_from_utc(instant)) == instant.replace(
        microsecond=0
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ServerClock().server_seconds_from_utc(datetime(2024, 6, 1))

"""Server time: MT servers commonly stamp deals in broker-local time, so each server has an offset."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ServerClock:
    """Converts between UTC and a server's own clock, which runs ``offset`` ahead of UTC."""

    offset: timedelta = timedelta(0)
    _server_epoch: datetime = field(init=False, repr=False, compare=False)
    """The UTC instant at which the server's clock reads zero; every deal's time is one addition."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_server_epoch", EPOCH - self.offset)

    def utc_from_server_msc(self, server_msc: int) -> datetime:
        """The UTC instant of a server timestamp in milliseconds."""
        return self._server_epoch + timedelta(milliseconds=server_msc)

    def utc_from_server_seconds(self, server_seconds: int) -> datetime:
        """The UTC instant of a server timestamp in seconds."""
        return self.utc_from_server_msc(server_seconds * 1000)

    def server_seconds_from_utc(self, instant: datetime) -> int:
        """The server's own timestamp in whole seconds (rounded down) for a UTC instant."""
        if instant.tzinfo is None:
            raise ValueError("server_seconds_from_utc needs a timezone-aware datetime")
        shifted = instant.astimezone(UTC) + self.offset
        return int(shifted.timestamp() // 1)

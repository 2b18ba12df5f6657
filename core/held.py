"""A value one process read and keeps for a few seconds, for data that every page shows and
staff change rarely (the company details in the portal footer, the published announcements).

Nothing tells one process that another one saved a change, so the time it keeps a value is the
whole consistency story: a change shows within ``ttl_seconds``. A failed load keeps nothing, so
the next caller tries again. Concurrent callers that find the value stale each load it; the last
load wins, which is harmless for values that are read, never merged.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Held(Generic[T]):
    """The last value loaded, and until when it counts as current."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._held: tuple[float, T] | None = None

    async def get(self, load: Callable[[], Awaitable[T]]) -> T:
        """The held value while it is current; otherwise ``load()``'s answer, held from now on."""
        now = self.clock()
        if self._held is not None and now < self._held[0]:
            return self._held[1]
        value = await load()
        self._held = (now + self.ttl_seconds, value)
        return value

    def forget(self) -> None:
        """Load afresh on the next :meth:`get`."""
        self._held = None

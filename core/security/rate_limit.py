"""Fixed-window counters for rate limits and lockouts: Redis when configured, memory otherwise.

Redis makes the limits hold across every app process; the in-memory limiter serves the demo,
which runs one process.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class Window:
    """How many hits a key has in its current window and when that window ends."""

    count: int
    retry_after_seconds: int


class RateLimiter(Protocol):
    """Counts hits per key in fixed windows."""

    async def hit(self, key: str, window_seconds: int) -> Window:
        """Count one hit and return the key's window after it."""
        ...

    async def peek(self, key: str) -> Window:
        """The key's window without counting a hit."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the key (a successful sign-in clears its failures)."""
        ...


class MemoryRateLimiter:
    """Counters in this process's memory."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._windows.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            del self._windows[key]
            return None
        return entry

    @staticmethod
    def _window(count: int, ends: float) -> Window:
        return Window(count, max(1, math.ceil(ends - time.monotonic())))

    async def hit(self, key: str, window_seconds: int) -> Window:
        entry = self._live(key)
        count, ends = entry if entry else (0, time.monotonic() + window_seconds)
        self._windows[key] = (count + 1, ends)
        return self._window(count + 1, ends)

    async def peek(self, key: str) -> Window:
        entry = self._live(key)
        return self._window(*entry) if entry else Window(0, 0)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimiter:
    """Counters in Redis: ``INCR`` plus an expiry set with the first hit of the window."""

    def __init__(self, redis: Redis, namespace: str = "brokerdesk:ratelimit") -> None:
        self.redis = redis
        self.namespace = namespace

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def hit(self, key: str, window_seconds: int) -> Window:
        full_key = self._key(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(full_key)
            pipe.expire(full_key, window_seconds, nx=True)
            pipe.ttl(full_key)
            count, _set, ttl = await pipe.execute()
        return Window(int(count), max(1, int(ttl)))

    async def peek(self, key: str) -> Window:
        full_key = self._key(key)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(full_key)
            pipe.ttl(full_key)
            raw, ttl = await pipe.execute()
        return Window(int(raw or 0), max(0, int(ttl)))

    async def reset(self, key: str) -> None:
        await self.redis.delete(self._key(key))

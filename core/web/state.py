"""The services an app holds for its lifetime, kept on ``app.state`` under one typed key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from redis.asyncio import Redis

from core.db import Database
from core.held import Held
from core.security.rate_limit import MemoryRateLimiter, RateLimiter
from core.settings import Settings

STATE_KEY = "brokerdesk"


@dataclass
class AppServices:
    """What handlers need from the process: settings, the database, Redis if configured, and the
    rate limiter."""

    name: str
    settings: Settings
    database: Database
    redis: Redis | None = None
    rate_limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    """Counters for rate limits and lockouts: Redis-backed when Redis is configured."""
    kept: dict[str, Held[Any]] = field(default_factory=dict, repr=False)
    """Values read from ``database`` and kept for a few seconds (:meth:`held`)."""

    def held(self, key: str, ttl_seconds: float) -> Held[Any]:
        """The :class:`~core.held.Held` value kept under ``key`` (the portal's footer details, say).

        It lives here rather than on a middleware or the app because what it holds was read from
        these services' database: an app bound to other services starts with nothing kept.
        """
        kept = self.kept.get(key)
        if kept is None:
            kept = self.kept[key] = Held(ttl_seconds)
        return kept


def app_services(app: Litestar) -> AppServices:
    services: Any = app.state[STATE_KEY]
    assert isinstance(services, AppServices)
    return services

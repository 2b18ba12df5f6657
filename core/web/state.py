"""The services an app holds for its lifetime, kept on ``app.state`` under one typed key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from redis.asyncio import Redis

from core.db import Database
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


def app_services(app: Litestar) -> AppServices:
    services: Any = app.state[STATE_KEY]
    assert isinstance(services, AppServices)
    return services

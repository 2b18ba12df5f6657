"""The services an app holds for its lifetime, kept on ``app.state`` under one typed key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from redis.asyncio import Redis

from core.db import Database
from core.settings import Settings

STATE_KEY = "brokerdesk"


@dataclass
class AppServices:
    """What handlers need from the process: settings, the database and Redis if configured."""

    name: str
    settings: Settings
    database: Database
    redis: Redis | None = None


def app_services(app: Litestar) -> AppServices:
    services: Any = app.state[STATE_KEY]
    assert isinstance(services, AppServices)
    return services

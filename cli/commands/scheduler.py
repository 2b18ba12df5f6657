"""``brokerdesk scheduler``: the process that sends periodic jobs (one leader at a time)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from redis import Redis

from core.errors import SettingsError
from core.logging import configure_logging
from core.settings import load_settings
from workers.broker import create_broker
from workers.leader import run_as_leader
from workers.scheduler import Scheduler


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("scheduler", help="send periodic jobs to the Redis broker")
    parser.set_defaults(handler=run_scheduler)


def run_scheduler(_args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.uses_redis:
        raise SettingsError("REDIS_URL is required for a separate scheduler; the demo runs it in-process")
    configure_logging(settings)
    create_broker(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_as_leader(Redis.from_url(settings.redis_url), Scheduler(), stop)
    return 0

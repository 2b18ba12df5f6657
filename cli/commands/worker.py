"""``brokerdesk worker``: Dramatiq worker processes on the Redis broker."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from core.errors import SettingsError
from core.settings import load_settings


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("worker", help="run Dramatiq worker processes (needs REDIS_URL)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--queues", nargs="*", help="only consume these queues")
    parser.set_defaults(handler=run_worker)


def run_worker(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.uses_redis:
        raise SettingsError(
            "REDIS_URL is required for separate worker processes; the demo runs workers in-process"
        )
    command = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.entry",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]
    if args.queues:
        command += ["--queues", *args.queues]
    os.execv(sys.executable, command)  # noqa: S606 - replaces this process with the Dramatiq CLI

"""``brokerdesk support-inbound``: the SMTP server where clients' mailed replies thread into their
support tickets. Run it on loopback behind the broker's MX, which relays
``support+…@<BROKERDESK_SUPPORT_REPLY_DOMAIN>`` to it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from core.db import Database
from core.logging import configure_logging
from core.settings import load_settings
from support.inbound_server import serve_inbound


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "support-inbound", help="receive clients' mailed replies to support tickets (SMTP, loopback)"
    )
    parser.add_argument("--host", help="listen address (default BROKERDESK_SUPPORT_INBOUND_HOST)")
    parser.add_argument("--port", type=int, help="listen port (default BROKERDESK_SUPPORT_INBOUND_PORT)")
    parser.set_defaults(handler=run_support_inbound)


def run_support_inbound(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.host:
        settings = replace(settings, support_inbound_host=args.host)
    if args.port is not None:
        settings = replace(settings, support_inbound_port=args.port)
    configure_logging(settings)

    async def serve() -> None:
        database = Database.from_url(settings.database_url, pool_size=settings.db_pool_size)
        try:
            await serve_inbound(database, settings)
        finally:
            await database.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0

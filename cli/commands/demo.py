"""``brokerdesk demo``: migrate, seed and run everything on loopback in one process.

Portal and back office run as two uvicorn servers on one event loop; the Dramatiq worker and the
scheduler run on threads with the in-process broker. Unless ``BROKERDESK_KYC_SANDBOX_URL`` points
elsewhere, the KYC sandbox vendor runs as a third server on a free loopback port, with a fresh
webhook secret. The MT5 emulator (with its trade simulator) runs on another free loopback port,
over plain HTTP because the bridge workers verify TLS against the system's trust store, and the
demo trading server is pointed at it before anything is served. Ctrl-C stops them all cleanly.
The parts themselves live in :mod:`cli.stack`, which the end-to-end browser test runs too.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import signal
import socket
from typing import Any

from cli.commands.psp_sandbox import DEMO_RATES_FILE
from cli.seed import seed_demo
from cli.stack import LoopbackStack, start_background, with_kyc_sandbox
from core.db import Database, migrate
from core.errors import SettingsError
from core.settings import Settings, load_settings


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("demo", help="migrate, seed and run the whole product on loopback")
    parser.add_argument("--no-serve", action="store_true", help="migrate and seed, then exit")
    parser.set_defaults(handler=run_demo)


def _loopback_only(settings: Settings) -> None:
    for host in (settings.portal_host, settings.backoffice_host):
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise SettingsError(f"the demo serves on loopback only, not on {host}")


def kyc_sandbox_socket(settings: Settings) -> tuple[Settings, socket.socket | None]:
    """A loopback socket for the KYC sandbox and settings that point the portal at it; nothing
    when a sandbox URL is configured already."""
    if settings.kyc_sandbox_url:
        return settings, None
    return with_kyc_sandbox(settings, secrets.token_hex(32))


def banner(settings: Settings, seeded: list[str], emulator_url: str = "") -> str:
    lines = [
        "",
        "BrokerDesk demo is running (Ctrl-C stops it)",
        f"  client portal : {settings.public_portal_url}/",
        f"  back office   : {settings.public_backoffice_url}/",
        f"  portal API    : {settings.public_portal_url}/api/schema",
        f"  staff API     : {settings.public_backoffice_url}/api/schema",
        f"  PSP sandbox   : {settings.psp_sandbox_url}/",
        f"  database      : {settings.database_url}",
        f"  KYC sandbox   : {settings.kyc_sandbox_url or 'off (manual review only)'}",
        f"  MT5 emulator  : {emulator_url + '/' if emulator_url else 'off'}",
    ]
    if seeded:
        lines += ["", "Demo logins:", *[f"  {line}" for line in seeded]]
    return "\n".join(lines) + "\n"


async def _serve(
    settings: Settings, sandbox_socket: socket.socket | None = None, seeded: list[str] | None = None
) -> None:
    stack = LoopbackStack(
        settings, seeded=list(seeded or []), sockets={"kyc": sandbox_socket} if sandbox_socket else {}
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def announce(running: LoopbackStack) -> None:
        emulator_url = running.emulator.base_url if running.emulator else ""
        print(banner(settings, running.seeded, emulator_url), flush=True)

    await stack.run(stop, on_ready=announce)


def run_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.rates_file:  # the demo's rate source is a local file
        settings = dataclasses.replace(settings, rates_file=str(DEMO_RATES_FILE))
    _loopback_only(settings)
    migrate.upgrade(settings.database_url)
    database = Database.from_url(settings.database_url)
    seeded = asyncio.run(seed_demo(database, settings))
    if args.no_serve:
        print("demo database migrated and seeded")
        return 0

    settings, sandbox_socket = kyc_sandbox_socket(settings)
    background = start_background(settings, database)
    try:
        asyncio.run(_serve(settings, sandbox_socket, seeded))
    finally:
        background.stop()
        print("BrokerDesk demo stopped.")
    return 0

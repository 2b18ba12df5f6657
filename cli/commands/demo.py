"""``brokerdesk demo``: migrate, seed and run everything on loopback in one process.

Portal and back office run as two uvicorn servers on one event loop; the Dramatiq worker and the
scheduler run on threads with the in-process broker. Unless ``BROKERDESK_KYC_SANDBOX_URL`` points
elsewhere, the KYC sandbox vendor runs as a third server on a free loopback port, with a fresh
webhook secret. The MT5 emulator (with its trade simulator) runs on another free loopback port,
over plain HTTP because the bridge workers verify TLS against the system's trust store, and the
demo trading server is pointed at it before anything is served. Ctrl-C stops them all cleanly.
The parts themselves live in :mod:`cli.stack`, which the end-to-end browser test runs too.

Each start rebuilds the demo's SQLite file: the emulator keeps its accounts and deals in memory,
so a database from an earlier run would name accounts the new emulator has never heard of. The
months of history (:mod:`cli.seed_history`) are built on the fresh emulator before anything is
served, and the workers start only afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import re
import secrets
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.commands.psp_sandbox import DEMO_RATES_FILE
from cli.seed import seed_demo
from cli.seed_history import seed_history
from cli.seed_identity import DEMO_DOMAIN
from cli.stack import Background, LoopbackStack, start_background, with_kyc_sandbox
from core.db import Database, migrate
from core.errors import SettingsError
from core.settings import Settings, load_settings


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("demo", help="migrate, seed and run the whole product on loopback")
    parser.add_argument(
        "--no-serve", action="store_true", help="migrate and seed (without the history), then exit"
    )
    parser.set_defaults(handler=run_demo)


def _loopback_only(settings: Settings) -> None:
    for host in (settings.portal_host, settings.backoffice_host):
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise SettingsError(f"the demo serves on loopback only, not on {host}")


TOTP_SECRET = re.compile(r" TOTP ([A-Z2-7]{16,})$")
SQLITE_PREFIX = "sqlite+aiosqlite:///"
QUIET_LOGGERS = ("httpx",)
"""Loggers whose INFO lines (one per request to the emulator, every few seconds) would bury the
banner; their warnings still show."""


def fresh_sqlite_file(database_url: str) -> None:
    """Remove the demo's SQLite file (and its journal files) so that migrations start it afresh."""
    if not database_url.startswith(SQLITE_PREFIX) or ":memory:" in database_url:
        return
    path = Path(database_url.removeprefix(SQLITE_PREFIX))
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def kyc_sandbox_socket(settings: Settings) -> tuple[Settings, socket.socket | None]:
    """A loopback socket for the KYC sandbox and settings that point the portal at it; nothing
    when a sandbox URL is configured already."""
    if settings.kyc_sandbox_url:
        return settings, None
    return with_kyc_sandbox(settings, secrets.token_hex(32))


def banner(settings: Settings, seeded: list[str], emulator_url: str = "", mt4_url: str = "") -> str:
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
        f"  MT4 gateway   : {mt4_url + '/v1/' if mt4_url else 'off'}",
    ]
    if seeded:
        lines += ["", "Demo logins:", *[f"  {line}" for line in seeded]]
        lines += [
            "",
            "Staff sign in with a TOTP code: add the secret above to an authenticator app, or print",
            "the current code with `brokerdesk totp SECRET` (e.g. `.venv/bin/brokerdesk totp "
            + _first_secret(seeded)
            + "`).",
            f"Every demo login ends in @{DEMO_DOMAIN}; mail the demo sends is in the back office's",
            "dev mailbox. New deals keep arriving from the emulator's trade simulator every few seconds.",
        ]
    return "\n".join(lines) + "\n"


def _first_secret(seeded: list[str]) -> str:
    for line in seeded:
        found = TOTP_SECRET.search(line)
        if found:
            return found.group(1)
    return "SECRET"


async def _serve(
    settings: Settings,
    sandbox_socket: socket.socket | None,
    seeded: list[str],
    start_workers: Callable[[], None],
) -> None:
    async def prepare(running: LoopbackStack) -> None:
        """The history on the fresh emulator, then the workers (they must not see the clock set back)."""
        assert running.emulator is not None
        started = time.monotonic()
        database = Database.from_url(settings.database_url)
        try:
            lines = await seed_history(database, settings, running.emulator, running.mt4_emulator)
        finally:
            await database.dispose()
        lines.append(f"  built at this start in {time.monotonic() - started:.1f} s")
        running.seeded.extend(lines)
        start_workers()

    stack = LoopbackStack(
        settings,
        seeded=list(seeded),
        sockets={"kyc": sandbox_socket} if sandbox_socket else {},
        mt4=True,
        prepare=prepare,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def announce(running: LoopbackStack) -> None:
        emulator_url = running.emulator.base_url if running.emulator else ""
        mt4_url = running.mt4_emulator.base_url if running.mt4_emulator else ""
        print(banner(settings, running.seeded, emulator_url, mt4_url), flush=True)

    await stack.run(stop, on_ready=announce)


def run_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.rates_file:  # the demo's rate source is a local file
        settings = dataclasses.replace(settings, rates_file=str(DEMO_RATES_FILE))
    _loopback_only(settings)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    fresh_sqlite_file(settings.database_url)
    migrate.upgrade(settings.database_url)
    database = Database.from_url(settings.database_url)
    seeded = asyncio.run(seed_demo(database, settings))
    if args.no_serve:
        print("demo database migrated and seeded")
        return 0

    settings, sandbox_socket = kyc_sandbox_socket(settings)
    background: list[Background] = []
    try:
        asyncio.run(
            _serve(
                settings,
                sandbox_socket,
                seeded,
                lambda: background.append(start_background(settings, database)),
            )
        )
    finally:
        for running in background:
            running.stop()
        print("BrokerDesk demo stopped.")
    return 0

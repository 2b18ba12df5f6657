"""``brokerdesk demo``: migrate, seed and run everything on loopback in one process.

Portal and back office run as two uvicorn servers on one event loop; the Dramatiq worker and the
scheduler run on threads with the in-process broker. Unless ``BROKERDESK_KYC_SANDBOX_URL`` points
elsewhere, the KYC sandbox vendor runs as a third server on a free loopback port, with a fresh
webhook secret. The MT5 emulator (with its trade simulator) runs on another free loopback port,
over plain HTTP because the bridge workers verify TLS against the system's trust store, and the
demo trading server is pointed at it before anything is served. Ctrl-C stops them all cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import secrets
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from backoffice.app import create_app as create_backoffice
from cli.commands.psp_sandbox import DEMO_RATES_FILE, build_sandbox, sandbox_port
from cli.seed import seed_demo
from cli.seed_trading import seed_trading
from core.db import Database, migrate
from core.errors import SettingsError
from core.settings import Settings, load_settings
from kyc.sandbox import KycSandbox
from mt_bridge.emulator.config import load_config
from mt_bridge.emulator.http_server import Emulator
from portal.app import create_app as create_portal
from workers import runtime
from workers.broker import create_broker
from workers.in_process import start_worker
from workers.scheduler import Scheduler


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("demo", help="migrate, seed and run the whole product on loopback")
    parser.add_argument("--no-serve", action="store_true", help="migrate and seed, then exit")
    parser.set_defaults(handler=run_demo)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the demo, which stops both servers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _loopback_only(settings: Settings) -> None:
    for host in (settings.portal_host, settings.backoffice_host):
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise SettingsError(f"the demo serves on loopback only, not on {host}")


def kyc_sandbox_socket(settings: Settings) -> tuple[Settings, socket.socket | None]:
    """A loopback socket for the KYC sandbox and settings that point the portal at it; nothing
    when a sandbox URL is configured already."""
    if settings.kyc_sandbox_url:
        return settings, None
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    configured = dataclasses.replace(
        settings,
        kyc_sandbox_url=f"http://127.0.0.1:{port}",
        kyc_sandbox_secret=settings.kyc_sandbox_secret or secrets.token_hex(32),
    )
    return configured, sock


async def start_emulator(settings: Settings, seeded: list[str]) -> Emulator:
    """The MT5 emulator on loopback, and the demo trading products pointed at it."""
    config = load_config()
    emulator = Emulator(config, tls=False)
    await emulator.start("127.0.0.1", 0)
    database = Database.from_url(settings.database_url)
    try:
        seeded.extend(await seed_trading(database, settings, emulator.base_url, config))
    finally:
        await database.dispose()
    return emulator


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
    seeded = list(seeded or [])
    emulator = await start_emulator(settings, seeded)
    print(banner(settings, seeded, emulator.base_url), flush=True)
    try:
        await _serve_apps(settings, sandbox_socket)
    finally:
        await emulator.stop()


async def _serve_apps(settings: Settings, sandbox_socket: socket.socket | None) -> None:
    portal = _Server(
        uvicorn.Config(
            create_portal(settings),
            host=settings.portal_host,
            port=settings.portal_port,
            log_config=None,
            server_header=False,
        )
    )
    backoffice = _Server(
        uvicorn.Config(
            create_backoffice(settings),
            host=settings.backoffice_host,
            port=settings.backoffice_port,
            log_config=None,
            server_header=False,
        )
    )
    servers = [portal, backoffice]
    running = [portal.serve(), backoffice.serve()]
    if sandbox_socket is not None:
        vendor = KycSandbox(secret=settings.kyc_sandbox_secret.encode())
        sandbox = _Server(uvicorn.Config(vendor, log_config=None, server_header=False, lifespan="off"))
        servers.append(sandbox)
        running.append(sandbox.serve(sockets=[sandbox_socket]))
    psp = _Server(
        uvicorn.Config(
            build_sandbox(settings),
            host="127.0.0.1",
            port=sandbox_port(settings),
            log_config=None,
            server_header=False,
        )
    )
    servers.append(psp)
    running.append(psp.serve())
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*running)


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
    broker = create_broker(settings)
    runtime.install(runtime.WorkerRuntime(settings=settings, database=database))
    import workers.actors  # noqa: F401 - declares the actors on the broker made above

    worker = start_worker(broker)
    stop_scheduler = threading.Event()
    scheduler = threading.Thread(
        target=Scheduler().run, args=(stop_scheduler,), name="scheduler", daemon=True
    )
    scheduler.start()
    try:
        asyncio.run(_serve(settings, sandbox_socket, seeded))
    finally:
        stop_scheduler.set()
        worker.stop()
        print("BrokerDesk demo stopped.")
    return 0

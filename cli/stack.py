"""Everything ``brokerdesk demo`` runs, as parts that other code can start and stop.

* :func:`start_background`: the Dramatiq worker and the scheduler on threads of this process, with
  the in-process broker;
* :class:`LoopbackStack`: on one event loop, the MT5 emulator (its trade simulator optional) with
  the demo trading products pointed at it (and, when asked, a second emulator as the demo's MT4
  server, reached through its Manager-API gateway), then the portal, the back office, the PSP
  sandbox and, when given its socket, the KYC sandbox vendor, each under uvicorn; it runs until
  told to stop.

The demo runs them until Ctrl-C; the end-to-end browser test (tests/e2e) runs the very same
stack on free loopback ports and stops it when the journey is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import dramatiq
import uvicorn

from backoffice.app import create_app as create_backoffice
from cli.commands.psp_sandbox import build_sandbox, sandbox_port
from cli.seed_trading import seed_mt4_trading, seed_trading
from core.db import Database
from core.settings import Settings
from kyc.sandbox import KycSandbox
from mt_bridge.emulator.config import EmulatorConfig, load_config
from mt_bridge.emulator.http_server import Emulator
from portal.app import create_app as create_portal
from workers import runtime
from workers.broker import create_broker
from workers.in_process import declare_actors, start_worker
from workers.scheduler import Scheduler

STARTUP_TIMEOUT_SECONDS = 30.0


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to whoever runs the stack."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def loopback_socket() -> socket.socket:
    """A socket bound to a free loopback port, for a server to serve on (no race for the port)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Background:
    """The worker and the scheduler running on threads; :meth:`stop` ends both."""

    worker: dramatiq.Worker
    scheduler: threading.Thread
    stop_scheduler: threading.Event

    def stop(self) -> None:
        self.stop_scheduler.set()
        self.scheduler.join(timeout=10)
        self.worker.stop()


def start_background(settings: Settings, database: Database) -> Background:
    """A broker for ``settings``, the actors declared on it, a worker and the scheduler on threads."""
    broker = create_broker(settings)
    runtime.install(runtime.WorkerRuntime(settings=settings, database=database))
    declare_actors()
    worker = start_worker(broker)
    stop_scheduler = threading.Event()
    scheduler = threading.Thread(
        target=Scheduler().run, args=(stop_scheduler,), name="scheduler", daemon=True
    )
    scheduler.start()
    return Background(worker=worker, scheduler=scheduler, stop_scheduler=stop_scheduler)


async def start_emulator(
    settings: Settings,
    seeded: list[str],
    *,
    run_simulator: bool = True,
    config: EmulatorConfig | None = None,
) -> Emulator:
    """The MT5 emulator on loopback over plain HTTP, and the demo trading products pointed at it."""
    return await _emulator_with(seed_trading, settings, seeded, config or load_config(), run_simulator)


MT4_SEED_OFFSET = 4
"""The MT4 emulator's seed is the MT5 one's plus this, so its prices and trades differ."""


async def start_mt4_emulator(
    settings: Settings, seeded: list[str], *, run_simulator: bool = True, config: EmulatorConfig | None = None
) -> Emulator:
    """A second emulator, as the demo's MT4 server, and the demo's MT4 products pointed at it."""
    config = config or load_config()
    config = dataclasses.replace(config, seed=config.seed + MT4_SEED_OFFSET)
    return await _emulator_with(seed_mt4_trading, settings, seeded, config, run_simulator)


ProductSeeder = Callable[[Database, Settings, str, EmulatorConfig], Awaitable[list[str]]]


async def _emulator_with(
    seeder: ProductSeeder, settings: Settings, seeded: list[str], config: EmulatorConfig, run_simulator: bool
) -> Emulator:
    emulator = Emulator(config, tls=False, run_simulator=run_simulator)
    await emulator.start("127.0.0.1", 0)
    database = Database.from_url(settings.database_url)
    try:
        seeded.extend(await seeder(database, settings, emulator.base_url, config))
    finally:
        await database.dispose()
    return emulator


@dataclass
class LoopbackStack:
    """The emulator and the web servers of the demo on one event loop.

    ``sockets`` may hold pre-bound sockets for ``"portal"``, ``"backoffice"``, ``"psp"`` and
    ``"kyc"``; the first three otherwise listen where ``settings`` say, and the KYC sandbox runs only
    when it has a socket. ``psp_seed`` makes the PSP sandbox's duplicate and late webhooks
    repeatable. ``mt4`` adds the MT4 server on an emulator of its own. ``prepare`` runs once the
    emulators are up and before anything is served (the demo builds its history there).
    """

    settings: Settings
    seeded: list[str] = field(default_factory=list)
    sockets: dict[str, socket.socket] = field(default_factory=dict)
    run_simulator: bool = True
    emulator_config: EmulatorConfig | None = None
    psp_seed: int | None = None
    mt4: bool = False
    prepare: Callable[[LoopbackStack], Awaitable[None]] | None = None
    emulator: Emulator | None = field(default=None, init=False)
    mt4_emulator: Emulator | None = field(default=None, init=False)
    servers: list[uvicorn.Server] = field(default_factory=list, init=False)

    def _server(self, app: object, host: str, port: int, **options: object) -> _Server:
        """A server for ``app``; ``host`` and ``port`` are ignored when it is given a socket."""
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=host,
            port=port,
            log_config=None,
            server_header=False,
            **options,  # type: ignore[arg-type]
        )
        server = _Server(config)
        self.servers.append(server)
        return server

    def _serving(self) -> list[asyncio.Task[None]]:
        settings = self.settings
        self.servers = []
        apps: list[tuple[object, str, str, int, dict[str, object]]] = [
            (create_portal(settings), "portal", settings.portal_host, settings.portal_port, {}),
            (
                create_backoffice(settings),
                "backoffice",
                settings.backoffice_host,
                settings.backoffice_port,
                {},
            ),
            (build_sandbox(settings, seed=self.psp_seed), "psp", "127.0.0.1", sandbox_port(settings), {}),
        ]
        if "kyc" in self.sockets:
            vendor = KycSandbox(secret=settings.kyc_sandbox_secret.encode())
            apps.append((vendor, "kyc", "127.0.0.1", 0, {"lifespan": "off"}))
        tasks = []
        for app, name, host, port, options in apps:
            server = self._server(app, host, port, **options)
            sockets = [self.sockets[name]] if name in self.sockets else None
            tasks.append(asyncio.create_task(server.serve(sockets=sockets), name=f"serve-{name}"))
        return tasks

    async def run(self, stop: asyncio.Event, on_ready: Callable[[LoopbackStack], None] | None = None) -> None:
        """Serve until ``stop`` is set; ``on_ready`` is called once every server accepts requests."""
        self.emulator = await start_emulator(
            self.settings, self.seeded, run_simulator=self.run_simulator, config=self.emulator_config
        )
        try:
            if self.mt4:
                self.mt4_emulator = await start_mt4_emulator(
                    self.settings, self.seeded, run_simulator=self.run_simulator, config=self.emulator_config
                )
            if self.prepare is not None:
                await self.prepare(self)
            tasks = self._serving()
            try:
                await self._until_started(tasks)
                if on_ready is not None:
                    on_ready(self)
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
            finally:
                for server in self.servers:
                    server.should_exit = True
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self.mt4_emulator is not None:
                await self.mt4_emulator.stop()
            await self.emulator.stop()

    async def _until_started(self, tasks: list[asyncio.Task[None]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT_SECONDS
        while not all(server.started for server in self.servers):
            failed = [task for task in tasks if task.done()]
            if failed:
                failed[0].result()  # a server that could not start says why
                raise RuntimeError(f"{failed[0].get_name()} stopped while starting")
            if loop.time() > deadline:
                raise TimeoutError("the demo servers did not start in time")
            await asyncio.sleep(0.05)


def with_kyc_sandbox(settings: Settings, secret: str) -> tuple[Settings, socket.socket]:
    """Settings that point the portal at a KYC sandbox on a fresh loopback socket, and that socket."""
    sock = loopback_socket()
    configured = dataclasses.replace(
        settings,
        kyc_sandbox_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
        kyc_sandbox_secret=settings.kyc_sandbox_secret or secret,
    )
    return configured, sock

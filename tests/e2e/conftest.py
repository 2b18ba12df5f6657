"""The whole product on loopback, as ``brokerdesk demo`` runs it, and a headless chromium to drive it.

:func:`product` seeds the test's database with the demo's seeders and starts :mod:`cli.stack` on
free loopback ports: portal, back office, PSP sandbox, KYC sandbox, the MT5 emulator with the demo
trading products pointed at it, and the Dramatiq worker and scheduler on threads. The emulator's
background simulator is off: the test makes its deals through the emulator's Web API, so the
amounts it asserts are known.

Playwright drives Debian's ``chromium`` (``make browser`` installs it); it never downloads a
browser. A missing chromium is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from cli.commands.psp_sandbox import DEMO_RATES_FILE
from cli.seed import seed_demo
from cli.stack import LoopbackStack, loopback_socket, start_background, with_kyc_sandbox
from core.db import Database
from core.settings import Settings
from mt_bridge.emulator.http_server import Emulator
from workers import runtime

OUTPUT = Path(os.environ.get("BROKERDESK_E2E_OUTPUT", Path(__file__).parent / "output"))
"""Screenshots land here (ignored by git); ``BROKERDESK_E2E_OUTPUT`` moves them."""
TIMEOUT_MS = 20_000
"""How long one browser action or expectation may wait: generous, the machine may be busy."""
PSP_SEED = 11
"""Fixes which of the PSP sandbox's webhooks come twice or late, so runs behave alike."""


@dataclass
class Product:
    """The running product: where each part listens, and the test's handle on the database."""

    settings: Settings
    db: Database
    stack: LoopbackStack

    @property
    def portal(self) -> str:
        return self.settings.public_portal_url

    @property
    def backoffice(self) -> str:
        return self.settings.public_backoffice_url

    @property
    def emulator(self) -> Emulator:
        assert self.stack.emulator is not None
        return self.stack.emulator


def chromium_executable() -> str:
    found = os.environ.get("BROKERDESK_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed; run `make browser` (apt-get install chromium)")
    return found


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT.glob("*.png"):
        old.unlink()
    return OUTPUT


def _worker_database(url: str) -> Database:
    """The worker's own handle. Its actors run on the worker's event loop, which is gone by the time
    the test disposes of it, so on PostgreSQL no connection is kept open between jobs."""
    if url.startswith("sqlite"):
        return Database.from_url(url)
    return Database(create_async_engine(url, poolclass=NullPool))


@pytest.fixture
async def product(settings: Settings, db: Database) -> AsyncIterator[Product]:
    sockets = {name: loopback_socket() for name in ("portal", "backoffice", "psp")}

    def port(name: str) -> int:
        return int(sockets[name].getsockname()[1])

    configured = dataclasses.replace(
        settings,
        portal_port=port("portal"),
        backoffice_port=port("backoffice"),
        psp_sandbox_url=f"http://127.0.0.1:{port('psp')}",
        rates_file=str(DEMO_RATES_FILE),
    )
    configured, sockets["kyc"] = with_kyc_sandbox(configured, "e2e-kyc-sandbox-secret")
    seeded = await seed_demo(db, configured)
    worker_db = _worker_database(configured.database_url)
    previous_runtime = (runtime._runtime, runtime._platforms)
    background = start_background(configured, worker_db)
    stack = LoopbackStack(configured, seeded=seeded, sockets=sockets, run_simulator=False, psp_seed=PSP_SEED)
    stop, ready = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(stack.run(stop, on_ready=lambda _stack: ready.set()))
    try:
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait([waiting, running], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if running.done():
            running.result()
        assert ready.is_set(), "the product did not start within a minute"
        yield Product(settings=configured, db=db, stack=stack)
    finally:
        stop.set()
        try:
            await asyncio.wait_for(running, timeout=30)
        finally:
            await asyncio.to_thread(background.stop)
            await worker_db.dispose()
            runtime._runtime, runtime._platforms = previous_runtime
            for sock in sockets.values():
                sock.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_executable(), headless=True)
        try:
            yield launched
        finally:
            await launched.close()

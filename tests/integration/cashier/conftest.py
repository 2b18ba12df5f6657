"""Cashier fixtures: the PSP sandbox served for real on loopback, and helpers to fund wallets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn

from cashier import deposits
from cashier.gates import Gates
from cashier.models import Deposit
from cashier.psp.sandbox import PspSandbox
from cashier.psp.sandbox_client import SandboxPsp
from cashier.withdrawals import WithdrawalPolicy
from core.audit.service import Actor
from core.db import Database
from core.storage import EncryptedFileStore
from ledger.reading import trial_balance

PSP_SECRET = "test-psp-secret"
PDF = b"%PDF-1.4\n" + b"wire transfer confirmation " * 20
CLIENT = Actor(id=None, email="client@example.test", kind="client")
FINANCE = Actor(id=9001, email="finance@staff.test", kind="staff")
SECOND_FINANCE = Actor(id=9002, email="finance2@staff.test", kind="staff")
POLICY = WithdrawalPolicy(
    per_transaction_max=500_000, daily_max=800_000, four_eyes_from=100_000, deadline=timedelta(hours=48)
)


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve_on_loopback(app: object, port: int = 0, lifespan: str = "off") -> RunningServer:
    """Serve an ASGI app on 127.0.0.1 (a free port unless given), on this event loop."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan=lifespan)  # type: ignore[arg-type]
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(f"http://127.0.0.1:{port}", server, task)


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[PspSandbox, SandboxPsp]]:
    """The PSP sandbox over real HTTP, with no random duplicates (tests replay on purpose)."""
    psp_sandbox = PspSandbox(
        secret=PSP_SECRET.encode(), duplicate_rate=0, late_rate=0, retry_delays=(0.05, 0.1), seed=7
    )
    running = await serve_on_loopback(psp_sandbox)
    yield psp_sandbox, SandboxPsp(running.url, PSP_SECRET)
    await psp_sandbox.drain()
    await running.stop()


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileStore:
    return EncryptedFileStore(tmp_path / "files", b"k" * 32)


async def declare_wire(
    db: Database,
    store: EncryptedFileStore,
    client_id: int,
    amount: int,
    key: str,
    *,
    currency: str = "USD",
    gates: Gates | None = None,
) -> Deposit:
    """The client declares a wire and uploads its proof (a PDF); it waits for finance's review."""
    return await deposits.submit_wire_deposit(
        db,
        store,
        gates or Gates(),
        client_id=client_id,
        currency=currency,
        amount=amount,
        proof=PDF,
        max_bytes=1024 * 1024,
        idempotency_key=key,
        actor=CLIENT,
    )


async def fund_by_wire(
    db: Database, store: EncryptedFileStore, client_id: int, amount: int, currency: str = "USD", key: str = ""
) -> int:
    """Credit a wallet the way finance does: a wire with proof, approved."""
    deposit = await declare_wire(
        db, store, client_id, amount, key or f"fund-{client_id}-{amount}-{currency}", currency=currency
    )
    approved = await deposits.approve_wire_deposit(db, deposit.id, amount, FINANCE, gates=Gates())
    assert approved.status == "credited"
    return approved.id


async def assert_books_balanced(db: Database, *currencies: str) -> None:
    for currency in currencies or ("USD",):
        balance = await trial_balance(db, currency)
        assert balance.net == 0, balance
        assert balance.pending_debits == balance.pending_credits, balance

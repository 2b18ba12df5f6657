"""An IB's payout requests racing on PostgreSQL: the same request sent many times at once pays once
and every copy answers that payout; other requests at the same moment find nothing left to pay.

SQLite has one writer at a time, so these races can't happen there; the module runs on the
PostgreSQL pass of the suite.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from core.db import Database
from core.settings import Settings
from ib import payouts
from ib.errors import PayoutError
from ib.ledger_accounts import wallet_account
from ib.models import Payout
from ib.payout_requests import request_payout
from ledger.reading import get_balance
from tests.conftest import BACKEND
from tests.integration.ib.portal_world import PortalWorld, seed

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]


async def paid_once(db: Database, world: PortalWorld) -> None:
    async with db.transaction() as session:
        payouts = (await session.scalars(select(Payout).where(Payout.partner_id == world.partner("A")))).all()
        wallet = await wallet_account(session, world.users["A"], "USD")
    assert [(p.amount, p.status) for p in payouts] == [(2300, "paid")]
    assert (await get_balance(db, wallet)).posted == 2300
    assert await world.world.payable("A") == 0


async def test_one_request_sent_many_times_at_once_pays_once(db: Database, settings: Settings) -> None:
    world = await seed(db, settings)
    actor = f"client:{world.users['A']}"
    results = await asyncio.gather(
        *(
            request_payout(db, world.partner("A"), idempotency_key="race-payout-key-0001", actor=actor)
            for _ in range(6)
        )
    )
    assert len({payout.id for result in results for payout in result}) == 1  # every copy answers it
    await paid_once(db, world)


async def test_different_requests_at_once_pay_what_there_is_once(db: Database, settings: Settings) -> None:
    world = await seed(db, settings)
    actor = f"client:{world.users['A']}"
    results = await asyncio.gather(
        *(
            request_payout(db, world.partner("A"), idempotency_key=f"race-payout-other-{n:04}", actor=actor)
            for n in range(4)
        ),
        return_exceptions=True,
    )
    paid = [result for result in results if isinstance(result, list)]
    refused = [result for result in results if isinstance(result, PayoutError)]
    assert len(paid) == 1
    assert len(refused) == 3  # nothing left, or the ledger refused to take payable below zero
    await paid_once(db, world)


KEY = "race-payout-key-0002"


async def test_a_copy_that_reads_the_balance_after_its_twin_paid_answers_that_payout(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving the clean-clone CI run once hit by chance, forced: the late copy looks its
    key up (nothing yet), its twin pays and commits, then the late copy reads the balance (zero)."""
    world = await seed(db, settings)
    actor = f"client:{world.users['A']}"
    real_payable_accounts = payouts.payable_accounts
    late_copy_waits = asyncio.Event()
    twin_committed = asyncio.Event()

    async def payable_accounts(*args: Any) -> Any:
        if not late_copy_waits.is_set():  # the first caller is the late copy, past its key look-up
            late_copy_waits.set()
            await twin_committed.wait()
        return await real_payable_accounts(*args)

    monkeypatch.setattr(payouts, "payable_accounts", payable_accounts)
    late = asyncio.create_task(request_payout(db, world.partner("A"), idempotency_key=KEY, actor=actor))
    await asyncio.wait_for(late_copy_waits.wait(), 30)
    [paid] = await request_payout(db, world.partner("A"), idempotency_key=KEY, actor=actor)
    twin_committed.set()
    [answered] = await asyncio.wait_for(late, 30)
    assert answered.id == paid.id
    await paid_once(db, world)


async def test_copies_that_both_read_the_balance_before_either_pays_pay_once(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both copies see the whole amount available; the ledger's key lets one pay, and the other,
    refused on the key, asks again and answers that payout."""
    world = await seed(db, settings)
    actor = f"client:{world.users['A']}"
    real_get_balance = payouts.get_balance
    both_read = asyncio.Barrier(2)
    reads: list[int] = []

    async def get_balance(*args: Any) -> Any:
        balance = await real_get_balance(*args)
        reads.append(balance.available)
        if len(reads) <= 2:
            await asyncio.wait_for(both_read.wait(), 30)
        return balance

    monkeypatch.setattr(payouts, "get_balance", get_balance)
    results = await asyncio.wait_for(
        asyncio.gather(
            *(request_payout(db, world.partner("A"), idempotency_key=KEY, actor=actor) for _ in range(2))
        ),
        60,
    )
    assert reads[:2] == [2300, 2300]
    assert len({payout.id for result in results for payout in result}) == 1
    await paid_once(db, world)

"""Opening a trading account records the ``account.opened`` domain event when the server has made
it (not when it is requested), in the transaction that records the command's result."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import DomainEvent
from mt_bridge import accounts
from tests.integration.mt_bridge.bridge_setup import Crm

pytestmark = pytest.mark.asyncio


async def refuse_everyone(session: AsyncSession, client_id: int) -> None:
    raise AssertionError("a demo account needs no KYC check")


async def test_account_opened_is_recorded_once_the_server_made_it(crm: Crm) -> None:
    async with crm.db.transaction() as session:
        opened = await accounts.request_account(
            session, crm.box, client_id=9, account_type_id=crm.demo_type_id, name="Demo Trader", leverage=500,
            kyc_check=refuse_everyone,
        )  # fmt: skip
    async with crm.db.session() as session:
        assert list(await session.scalars(select(DomainEvent))) == []
    await crm.run_outbox()
    async with crm.db.session() as session:
        [event] = list(await session.scalars(select(DomainEvent).where(DomainEvent.kind == "account.opened")))
    assert event.payload == {
        "trading_account_id": opened.account.id,
        "client_id": 9,
        "server_id": crm.server_id,
        "login": 500000 + opened.command.id,
        "account_type_id": crm.demo_type_id,
        "currency": opened.account.currency,
        "is_demo": True,
    }
    assert event.uid.startswith("evt_")
    assert len(event.uid) == 36

"""Deal sync against the emulator over a real socket: a simulated day of trading, dealer edits and
deletes, an interrupted sync, and the ledger and reconciliation after each."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from mt_bridge.emulator.simulator import ROLLOVER_EVERY_STEPS
from mt_bridge.models import MirroredDeal, MirroredPosition
from mt_bridge.reconciliation import reconcile_server
from mt_bridge.records import DealAction, DealEntry
from mt_bridge.sync import read_watermark, rescan_deals, sync_server
from tests.integration.mt_bridge.bridge_setup import FAST_SYNC, Crm

TRADERS = 8


async def mirrored(crm: Crm) -> dict[int, MirroredDeal]:
    async with crm.db.session() as session:
        rows = await session.scalars(select(MirroredDeal).where(MirroredDeal.server_id == crm.server_id))
        return {row.ticket: row for row in rows}


async def assert_books_agree(crm: Crm, logins: list[int]) -> None:
    """Every deal once, ledger equal to the server for every login, and no reconciliation difference."""
    deals = await mirrored(crm)
    live = {t for t, d in deals.items() if not d.deleted}
    assert live == set(crm.emulator.server.deals)
    async with crm.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(MirroredDeal)) == len(deals)
        assert await session.scalar(select(func.count()).where(MirroredDeal.needs_posting.is_(True))) == 0
    assert await crm.ledger_balances() == crm.server_balances(logins)
    outcome = await reconcile_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    assert outcome.compared == len(logins)
    assert outcome.differences == []


async def test_a_simulated_day_syncs_every_deal_exactly_once(crm: Crm) -> None:
    opened = await crm.open_live_accounts(TRADERS, deposit=50_000_00)
    logins = [a.login for a in opened if a.login is not None]
    made = crm.emulator.simulator.run(ROLLOVER_EVERY_STEPS * 2)
    assert len(made) > 100
    entries = {deal.entry for deal in made}
    assert {DealEntry.IN, DealEntry.OUT} <= entries
    assert any(deal.storage != 0 for deal in made)

    report = await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    assert report.deals_seen >= len(made)
    await assert_books_agree(crm, logins)
    deals = await mirrored(crm)
    closing = next(d for d in made if d.entry == DealEntry.OUT and d.symbol == "XAUUSD.m")
    assert deals[closing.ticket].symbol == "XAUUSD"
    assert deals[closing.ticket].raw_symbol == "XAUUSD.m"
    assert deals[closing.ticket].profit == int(closing.profit * 100)
    async with crm.db.session() as session:
        positions = set(await session.scalars(select(MirroredPosition.ticket)))
    assert positions == set(crm.emulator.server.positions)

    again = await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    assert again.posting.transfers == 0
    await assert_books_agree(crm, logins)


async def test_dealer_edits_and_deletes_are_reflected(crm: Crm) -> None:
    opened = await crm.open_live_accounts(4, deposit=50_000_00)
    logins = [a.login for a in opened if a.login is not None]
    made = crm.emulator.simulator.run(60)
    await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    server = crm.emulator.server
    edited = next(d for d in made if d.entry == DealEntry.OUT)
    server.update_deal(
        edited.ticket, {"profit": edited.profit + Decimal("12.34"), "commission": Decimal("-1.00")}
    )
    deleted_trade = next(d for d in made if d.entry == DealEntry.IN and d.ticket != edited.ticket)
    server.delete_deal(deleted_trade.ticket)
    deleted_deposit = next(
        d for d in server.deals.values() if d.action == DealAction.BALANCE and d.login == logins[0]
    )
    server.delete_deal(deleted_deposit.ticket)
    manual = server.balance_operation(logins[1], DealAction.BALANCE, Decimal("77.00"), "dealer bonus")

    seen, gone = await rescan_deals(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    assert gone == 2
    assert seen == len(server.deals)
    await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    deals = await mirrored(crm)
    assert deals[edited.ticket].profit == int(edited.profit * 100)
    assert deals[edited.ticket].commission == -100
    assert deals[edited.ticket].revision == 1
    assert deals[deleted_trade.ticket].deleted
    assert deals[deleted_deposit.ticket].deleted
    assert deals[manual.ticket].comment == "dealer bonus"
    await assert_books_agree(crm, logins)


async def test_an_interrupted_sync_restarts_without_losing_or_doubling(crm: Crm) -> None:
    opened = await crm.open_live_accounts(6, deposit=50_000_00)
    logins = [a.login for a in opened if a.login is not None]
    for _ in range(40):
        crm.emulator.simulator.step()
        await asyncio.sleep(0.02)
    policy = replace(
        FAST_SYNC,
        chunk=timedelta(milliseconds=100),
        safety_lag=timedelta(0),
        overlap=timedelta(0),
        initial_backfill=timedelta(seconds=10),
        future_margin=timedelta(seconds=1),
    )
    first = asyncio.create_task(sync_server(crm.db, crm.directory.platform, crm.server_id, policy))
    for _ in range(500):
        if await read_watermark(crm.db, crm.server_id) is not None and len(await mirrored(crm)) > 20:
            break
        await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    partial = await mirrored(crm)
    assert 0 < len(partial) < len(crm.emulator.server.deals)

    report = await sync_server(crm.db, crm.directory.platform, crm.server_id, policy)
    assert report.deals_seen < len(crm.emulator.server.deals)
    await assert_books_agree(crm, logins)

"""Deals and positions from the simulator, fetched by the real client, checked against the server."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mt_bridge.emulator.http_server import Emulator
from mt_bridge.emulator.state import DealRecord
from mt_bridge.mt5.client import Mt5WebApiPlatform
from mt_bridge.platform import DealQuery, PositionQuery
from mt_bridge.records import BalanceOperation, BalanceOperationType, Deal, DealEntry
from tests.integration.mt_bridge.conftest import (
    HEDGING_GROUP,
    NETTING_GROUP,
    PlatformFactory,
    open_funded_account,
)
from tests.integration.mt_bridge.test_session import raw_client, sign_in_by_hand

CENT = Decimal("0.01")


def window(minutes: int = 10) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=minutes), now + timedelta(minutes=1)


def cents(amount: Decimal) -> int:
    return int(amount / CENT)


def assert_same_deal(fetched: Deal, stored: DealRecord) -> None:
    assert (fetched.ticket, fetched.login, fetched.action, fetched.entry) == (
        stored.ticket,
        stored.login,
        stored.action,
        stored.entry,
    )
    assert fetched.position_id == stored.position_id
    assert fetched.volume == Decimal(stored.volume_ext) / 100_000_000
    assert fetched.volume_closed == Decimal(stored.volume_closed_ext) / 100_000_000
    assert fetched.price == stored.price
    assert fetched.profit == cents(stored.profit)
    assert fetched.commission == cents(stored.commission)
    assert fetched.swap == cents(stored.storage)
    assert fetched.server_time_msc == stored.time_msc


def partially_closed_positions(deals: list[Deal]) -> set[int]:
    """Positions that an OUT deal reduced without closing them."""
    held: dict[int, Decimal] = defaultdict(Decimal)
    partial: set[int] = set()
    for deal in deals:
        if not deal.is_trade:
            continue
        if deal.entry == DealEntry.IN:
            held[deal.position_id] += deal.volume
        elif deal.entry == DealEntry.OUT:
            if deal.volume < held[deal.position_id]:
                partial.add(deal.position_id)
            held[deal.position_id] -= deal.volume
    return partial


async def test_simulated_trading_arrives_whole_and_exact(
    https_emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform: Mt5WebApiPlatform = make_platform(https_emulator)
    logins = [
        await open_funded_account(platform, group=HEDGING_GROUP, deposit=5_000_000),
        await open_funded_account(platform, group=HEDGING_GROUP, deposit=5_000_000),
        await open_funded_account(platform, group=NETTING_GROUP, deposit=5_000_000),
        await open_funded_account(platform, group=NETTING_GROUP, deposit=5_000_000),
    ]
    https_emulator.simulator.run(400)
    since, until = window()

    deals = await platform.fetch_deals(DealQuery(since=since, until=until, logins=logins))
    stored = {deal.ticket: deal for deal in https_emulator.server.deals.values()}
    assert {deal.ticket for deal in deals} == set(stored)
    assert len(deals) == len({deal.ticket for deal in deals})
    for deal in deals:
        assert_same_deal(deal, stored[deal.ticket])

    per_login: dict[int, int] = defaultdict(int)
    for deal in deals:
        per_login[deal.login] += 1
    assert max(per_login.values()) > 100, "the test must page through more than one page"

    entries = {deal.entry for deal in deals if deal.is_trade}
    assert entries == {DealEntry.IN, DealEntry.OUT, DealEntry.INOUT}
    assert partially_closed_positions(deals)
    assert any(deal.swap != 0 for deal in deals)
    assert all(deal.commission < 0 for deal in deals if deal.is_trade)
    assert {deal.symbol for deal in deals if deal.is_trade} == {"EURUSD", "USDJPY", "XAUUSD"}

    for login in logins:
        account = await platform.get_account(login)
        booked = sum(d.profit + d.commission + d.swap + d.fee for d in deals if d.login == login)
        assert account.balance == booked


async def test_group_batch_returns_only_the_masked_groups(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform: Mt5WebApiPlatform = make_platform(emulator)
    hedged = await open_funded_account(platform, group=HEDGING_GROUP)
    netted = await open_funded_account(platform, group=NETTING_GROUP)
    emulator.simulator.run(60)
    since, until = window()

    real = await platform.fetch_deals(DealQuery(since=since, until=until, group="real*"))
    assert real
    assert {deal.login for deal in real} == {netted}
    everyone = await platform.fetch_deals(DealQuery(since=since, until=until, group="*,!real*"))
    assert {deal.login for deal in everyone} == {hedged}

    positions = await platform.fetch_positions(PositionQuery(group="demo*"))
    stored = emulator.server.positions_of([hedged])
    assert [p.ticket for p in positions] == [p.ticket for p in stored]


async def test_positions_by_login_are_paged_and_normalised(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    from mt_bridge.emulator.trading import market_deal
    from mt_bridge.records import PositionSide

    platform: Mt5WebApiPlatform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=100_000_000)
    for index in range(130):
        symbol = "XAUUSD.m" if index % 2 else "EURUSD"
        market_deal(emulator.server, login, symbol, PositionSide(index % 2), Decimal("0.01"))
    positions = await platform.fetch_positions(PositionQuery(logins=[login]))
    assert len(positions) == 130
    assert {p.symbol for p in positions} == {"XAUUSD", "EURUSD"}
    assert {p.raw_symbol for p in positions} == {"XAUUSD.m", "EURUSD"}
    assert all(p.volume == Decimal("0.01") for p in positions)
    assert all(abs(p.opened_at - datetime.now(UTC)) < timedelta(seconds=10) for p in positions)


async def test_window_is_half_open_whatever_the_server_does(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform: Mt5WebApiPlatform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=1_000)
    await asyncio.sleep(1.1)
    await platform.post_balance_operation(
        BalanceOperation(login, BalanceOperationType.BALANCE, 2_000, 2, "second")
    )
    since, until = window()
    both = await platform.fetch_deals(DealQuery(since=since, until=until, logins=[login]))
    assert [d.profit for d in both] == [1_000, 2_000]
    first_only = await platform.fetch_deals(DealQuery(since=since, until=both[1].time, logins=[login]))
    assert [d.profit for d in first_only] == [1_000]
    second_only = await platform.fetch_deals(DealQuery(since=both[1].time, until=until, logins=[login]))
    assert [d.profit for d in second_only] == [2_000]


async def test_dealer_edits_and_deletes_are_visible(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform: Mt5WebApiPlatform = make_platform(emulator)
    login = await open_funded_account(platform, deposit=50_000)
    ticket = await platform.post_balance_operation(
        BalanceOperation(login, BalanceOperationType.BALANCE, 10_000, 2, "to edit")
    )
    async with raw_client(emulator) as dealer:
        await sign_in_by_hand(dealer)
        edited = (
            await dealer.post(
                "/api/deal/update", json={"Deal": str(ticket), "Profit": "123.45", "Comment": "fixed"}
            )
        ).json()
        assert edited["retcode"] == "0 Done"
        assert edited["answer"]["Profit"] == "123.45"

    since, until = window()
    deals = {
        d.ticket: d for d in await platform.fetch_deals(DealQuery(since=since, until=until, logins=[login]))
    }
    assert (deals[ticket].profit, deals[ticket].comment) == (12_345, "fixed")
    assert (await platform.get_account(login)).balance == 62_345

    async with raw_client(emulator) as dealer:
        await sign_in_by_hand(dealer)
        deleted = (await dealer.get("/api/deal/delete", params={"ticket": ticket})).json()
        assert deleted["retcode"] == "0 Done"
        missing = (await dealer.get("/api/deal/get", params={"ticket": ticket})).json()
        assert missing["retcode"].startswith("13 ")

    remaining = await platform.fetch_deals(DealQuery(since=since, until=until, logins=[login]))
    assert [d.ticket for d in remaining if d.ticket == ticket] == []
    assert (await platform.get_account(login)).balance == 50_000


async def test_pages_are_limited_to_100(emulator: Emulator) -> None:
    async with raw_client(emulator) as client:
        await sign_in_by_hand(client)
        added = (
            await client.post(
                "/api/user/add",
                params={"group": HEDGING_GROUP, "name": "Pager", "leverage": 100},
                json={"PassMain": "Main1pass!", "PassInvestor": "Inv1pass!"},
            )
        ).json()
        params = {"login": added["login"], "from": 0, "to": 2**40, "offset": 0}
        too_big = (await client.get("/api/deal/get_page", params={**params, "total": 101})).json()
        assert too_big["retcode"].startswith("3 ")
        fine = (await client.get("/api/deal/get_page", params={**params, "total": 100})).json()
        assert fine == {"retcode": "0 Done", "answer": []}
        total = (await client.get("/api/deal/get_total", params=params)).json()
        assert total == {"retcode": "0 Done", "answer": {"Total": "0"}}

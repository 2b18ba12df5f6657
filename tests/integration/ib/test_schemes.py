"""Scheme versions by effective date, drafts invisible to the engine, sub-IB allocation limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import Database
from ib import reference, schemes
from ib.engine import process_deals
from ib.errors import AllocationError, SchemeError
from mt_bridge.records import DealEntry
from tests.integration.ib.world import DAY1, SERVER, STAFF, T0, build_world, deal

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}


async def test_each_deal_uses_the_version_in_force_at_its_time(db: Database) -> None:
    world = await build_world(db, rules=[FIXED], ibs=[("A", 1, None, None)], clients={100: "A"})
    change = DAY1 + timedelta(days=1)
    async with db.transaction() as session:
        v2 = await schemes.add_version(
            session,
            world.scheme_id,
            effective_from=change,
            rules=[{**FIXED, "params": {"amount_per_lot": 900}}],
            actor=STAFF,
            now=DAY1,
        )
        v3 = await schemes.add_version(
            session,
            world.scheme_id,
            effective_from=change + timedelta(days=1),
            rules=[{**FIXED, "params": {"amount_per_lot": 5000}}],
            actor=STAFF,
            now=DAY1,
        )
        await schemes.publish_version(session, v2.id, actor=STAFF, now=DAY1)
        with pytest.raises(SchemeError):
            await schemes.publish_version(session, v2.id, actor=STAFF, now=DAY1)
        assert v3.status == "draft"
    # Deal 1 before the change: 700. Deal 2 after: 900. Deal 3 in v3's time: still 900 (v3 is a draft).
    await process_deals(
        db,
        SERVER,
        [
            deal(1, 5100, time=DAY1),
            deal(2, 5100, time=change + timedelta(hours=1)),
            deal(3, 5100, time=change + timedelta(days=2)),
        ],
    )
    assert await world.payables() == {"A": 700 + 900 + 900}


async def test_malformed_rules_are_refused(db: Database) -> None:
    world = await build_world(db, rules=[FIXED], ibs=[("A", 1, None, None)], clients={})
    bad_rules = [
        [{"code": "x", "kind": "bonus", "params": {}}],
        [{"code": "x", "kind": "fixed", "params": {}}],
        [{"code": "x", "kind": "profit_share", "params": {"percent": 12.5}}],
        [{"code": "x", "kind": "fixed", "params": {"amount_per_lot": 1}, "conditions": {"cap_per_week": 5}}],
        [FIXED, FIXED],
    ]
    async with db.transaction() as session:
        for rules in bad_rules:
            with pytest.raises(SchemeError):
                await schemes.add_version(
                    session, world.scheme_id, effective_from=DAY1, rules=rules, actor=STAFF, now=DAY1
                )


async def test_sub_ib_allocation_is_limited_to_the_giver_own_rate(db: Database) -> None:
    world = await build_world(
        db,
        rules=[FIXED],
        ibs=[("A", 1, None, None), ("B", 2, "A", None), ("C", 3, "B", None)],
        clients={100: "C"},
    )
    ids = world.ids
    at = T0 + timedelta(days=1)
    async with db.transaction() as session:
        with pytest.raises(AllocationError, match="holds 700"):
            await schemes.set_allocation(
                session,
                ids["A"],
                ids["B"],
                rule_code="fixed",
                amount_per_lot=701,
                effective_from=at,
                actor=STAFF,
                now=at,
            )
        with pytest.raises(AllocationError, match="not a direct sub-IB"):
            await schemes.set_allocation(
                session,
                ids["A"],
                ids["C"],
                rule_code="fixed",
                amount_per_lot=100,
                effective_from=at,
                actor=STAFF,
                now=at,
            )
        await schemes.set_allocation(
            session,
            ids["A"],
            ids["B"],
            rule_code="fixed",
            amount_per_lot=500,
            effective_from=at,
            actor=STAFF,
            now=at,
        )
        # B now holds 500, so it can give C at most 500.
        with pytest.raises(AllocationError, match="holds 500"):
            await schemes.set_allocation(
                session,
                ids["B"],
                ids["C"],
                rule_code="fixed",
                amount_per_lot=600,
                effective_from=at,
                actor=STAFF,
                now=at,
            )
        await schemes.set_allocation(
            session,
            ids["B"],
            ids["C"],
            rule_code="fixed",
            amount_per_lot=300,
            effective_from=at,
            actor=STAFF,
            now=at,
        )
    # Client of C closes 2 lots: C 2 x 300 = 600; B 2 x (500 - 300) = 400; A 2 x (700 - 500) = 400.
    await process_deals(db, SERVER, [deal(1, 5100, lots="2")])
    assert await world.payables() == {"C": 600, "B": 400, "A": 400}


async def test_conditions_that_need_stored_history(db: Database) -> None:
    # Hold time from an opening deal of an earlier batch; CPA from a recorded first deposit;
    # a daily cap that spans two batches.
    rules = [
        {
            "code": "fixed",
            "kind": "fixed",
            "params": {"amount_per_lot": 700},
            "conditions": {"min_hold_seconds": 600, "cap_per_day": 1000},
        },
        {
            "code": "cpa",
            "kind": "cpa",
            "params": {"amount": 5000, "min_first_deposit": 10000, "min_lots": "1.5"},
        },
    ]
    world = await build_world(db, rules=rules, ibs=[("A", 1, None, None)], clients={100: "A"})
    async with db.transaction() as session:
        await reference.record_deposit(session, 100, 25000, "USD", T0)
        assert not await reference.record_deposit(session, 100, 99999, "USD", DAY1)
    opened = DAY1 - timedelta(hours=1)
    await process_deals(db, SERVER, [deal(10, 5100, entry=DealEntry.IN, time=opened, position_id=1)])
    # Held an hour: 700. Lots 1 < 1.5: no CPA yet.
    await process_deals(db, SERVER, [deal(11, 5100, lots="1", time=DAY1, position_id=1)])
    assert await world.payables() == {"A": 700}
    # Next batch, same day: held 1 h again; cap leaves 300; lots reach 2 >= 1.5: CPA 5000.
    await process_deals(
        db, SERVER, [deal(12, 5100, lots="1", time=DAY1 + timedelta(minutes=5), position_id=1)]
    )
    assert await world.payables() == {"A": 700 + 300 + 5000}
    # A position held 1 minute earns nothing, and CPA is never paid twice.
    await process_deals(
        db,
        SERVER,
        [
            deal(20, 5100, entry=DealEntry.IN, time=DAY1 + timedelta(days=1), position_id=2),
            deal(21, 5100, lots="3", time=DAY1 + timedelta(days=1, minutes=1), position_id=2),
        ],
    )
    assert await world.payables() == {"A": 6000}


async def test_cpa_counts_the_lots_closed_before_the_first_deposit(db: Database) -> None:
    # The engine sums a client's past lots only once the client has deposited; the lots closed
    # before still count towards qualification then.
    cpa = {
        "code": "cpa",
        "kind": "cpa",
        "params": {"amount": 5000, "min_first_deposit": 10000, "min_lots": "2"},
    }
    world = await build_world(db, rules=[cpa], ibs=[("A", 1, None, None)], clients={100: "A"})
    await process_deals(
        db, SERVER, [deal(1, 5100, lots="1.5", time=DAY1), deal(2, 5100, lots="1", time=DAY1)]
    )
    assert await world.payables() == {}  # 2.5 lots, but no deposit yet
    async with db.transaction() as session:
        await reference.record_deposit(session, 100, 20000, "USD", DAY1 + timedelta(hours=1))
    # 0.1 lot after the deposit: 2.6 lots in all, qualified at this deal.
    await process_deals(db, SERVER, [deal(3, 5100, lots="0.1", time=DAY1 + timedelta(hours=2))])
    assert await world.payables() == {"A": 5000}
    await process_deals(db, SERVER, [deal(4, 5100, lots="3", time=DAY1 + timedelta(hours=3))])
    assert await world.payables() == {"A": 5000}  # paid once

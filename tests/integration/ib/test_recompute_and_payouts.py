"""Recompute a period (dry run, then publish only the differences) and pay IBs out of payable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import jobs
from core.db import Database
from ib import payouts, recompute, schemes
from ib.engine import process_deals
from ib.errors import PayoutError
from ib.ledger_accounts import wallet_account
from ib.models import CommissionLine
from ledger.reading import get_balance
from tests.integration.ib.world import DAY1, SERVER, STAFF, T0, World, build_world, deal

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
LEVELS = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200]}}
END = DAY1 + timedelta(days=10)


async def two_levels(db: Database) -> World:
    return await build_world(
        db,
        rules=[FIXED, LEVELS],
        ibs=[("A", 1, None, None), ("B", 2, "A", None)],
        clients={100: "B", 101: "A"},
    )


async def test_recomputing_an_unchanged_period_gives_an_empty_diff(db: Database) -> None:
    world = await two_levels(db)
    await process_deals(db, SERVER, [deal(1, 5100, lots="1"), deal(2, 5101, lots="2")])
    run = await recompute.dry_run(db, period_start=T0, period_end=END, actor=STAFF)
    assert run.diff == {"deals": 2, "ibs": []}
    outcome = await recompute.publish(db, run.id, actor=STAFF)
    assert outcome.deltas == {}
    assert outcome.transfer_ids == []
    assert await world.payables() == {"B": 700, "A": 200 + 1400}


async def test_a_draft_scheme_is_tried_then_published_posting_only_differences(db: Database) -> None:
    world = await two_levels(db)
    # B's client 1 lot: B 700, A 200. A's client 2 lots: A 1400.
    await process_deals(db, SERVER, [deal(1, 5100, lots="1"), deal(2, 5101, lots="2")])
    async with db.transaction() as session:
        draft = await schemes.add_version(
            session,
            world.scheme_id,
            effective_from=T0,
            rules=[{**FIXED, "params": {"amount_per_lot": 800}}, LEVELS],
            actor=STAFF,
            now=DAY1,
        )
    run = await recompute.dry_run(db, period_start=T0, period_end=END, draft_version_id=draft.id, actor=STAFF)
    # Under 800 a lot: B 800 (+100); A 200 + 1600 = 1800 (+200). Nothing posted by a dry run.
    rows = {(row["partner_id"], row["difference"]) for row in run.diff["ibs"]}
    assert rows == {(world.ids["B"], 100), (world.ids["A"], 200)}
    assert await world.payables() == {"B": 700, "A": 1600}
    async with db.transaction() as session:
        sent: list[jobs.Job] = []
        previous = jobs.set_sender(sent.append)
        try:
            await recompute.request_publish(session, run.id, actor=STAFF, now=DAY1)
            assert sent == []  # not before the commit
        finally:
            pass
    jobs.set_sender(previous)
    assert sent == [jobs.Job("ib.publish_recompute", (run.id,))]
    outcome = await recompute.publish(db, run.id, actor=STAFF)
    assert outcome.deltas == {(world.ids["B"], "USD"): 100, (world.ids["A"], "USD"): 200}
    assert await world.payables() == {"B": 800, "A": 1800}
    # Publishing again (a redelivered job) changes nothing.
    again = await recompute.publish(db, run.id, actor=STAFF)
    assert again.transfer_ids == []
    assert await world.payables() == {"B": 800, "A": 1800}
    # The old lines went to zero with their provenance; the new ones name the new version.
    async with db.session() as session:
        versions = set(
            (
                await session.scalars(
                    select(CommissionLine.scheme_version_id).where(CommissionLine.amount > 0)
                )
            ).all()
        )
    assert versions == {draft.id}
    # A later unchanged recompute of the same period: empty.
    assert (await recompute.dry_run(db, period_start=T0, period_end=END, actor=STAFF)).diff["ibs"] == []


async def test_instant_payout_moves_payable_to_the_wallet(db: Database, sent_jobs: list[jobs.Job]) -> None:
    world = await two_levels(db)
    async with db.transaction() as session:
        await payouts.set_policy(session, world.ids["B"], frequency="instant", actor=STAFF, now=DAY1)
    await process_deals(db, SERVER, [deal(1, 5100, lots="1")])
    # The engine asked for B's instant payout after its commit.
    assert jobs.Job("ib.pay_out_commissions", (world.ids["B"],)) in sent_jobs
    [payout] = await payouts.pay_out(db, world.ids["B"], now=DAY1)
    assert (payout.amount, payout.status) == (700, "paid")
    assert await world.payable("B") == 0
    async with db.transaction() as session:
        wallet = await wallet_account(session, 2, "USD")
    assert (await get_balance(db, wallet)).posted == 700
    # A redelivered job finds nothing left to pay.
    assert await payouts.pay_out(db, world.ids["B"], now=DAY1) == []


async def test_minimum_and_review_hold(db: Database) -> None:
    world = await two_levels(db)
    async with db.transaction() as session:
        await payouts.set_policy(
            session,
            world.ids["A"],
            frequency="monthly",
            minimum_amount=1000,
            hold_for_review=True,
            actor=STAFF,
            now=DAY1,
        )
        with pytest.raises(PayoutError):
            await payouts.set_policy(session, world.ids["A"], frequency="weekly", actor=STAFF, now=DAY1)
    await process_deals(db, SERVER, [deal(1, 5101, lots="1")])  # A earns 700 < 1000
    assert await payouts.run_scheduled(db, "monthly", now=END) == []
    await process_deals(db, SERVER, [deal(2, 5101, lots="1")])  # 1400 >= 1000
    [held] = await payouts.run_scheduled(db, "monthly", now=END)
    assert (held.amount, held.status) == (1400, "held")
    # Held money is reserved: the same month's tick again pays nothing more, and a clawback can't take it.
    assert await payouts.run_scheduled(db, "monthly", now=END) == []
    async with db.transaction() as session:
        wallet = await wallet_account(session, 1, "USD")
    assert (await get_balance(db, wallet)).posted == 0
    paid = await payouts.decide(db, held.id, approve=True, actor=STAFF, reason="checked")
    assert paid.status == "paid"
    assert (await get_balance(db, wallet)).posted == 1400
    assert await world.payable("A") == 0
    with pytest.raises(PayoutError):
        await payouts.decide(db, held.id, approve=False, actor=STAFF)


async def test_a_rejected_payout_returns_to_payable(db: Database) -> None:
    world = await two_levels(db)
    async with db.transaction() as session:
        await payouts.set_policy(
            session, world.ids["A"], frequency="daily", hold_for_review=True, actor=STAFF, now=DAY1
        )
    await process_deals(db, SERVER, [deal(1, 5101, lots="1")])
    [held] = await payouts.run_scheduled(db, "daily", now=END)
    await payouts.decide(db, held.id, approve=False, actor=STAFF, reason="suspicious volume")
    assert await world.payable("A") == 700

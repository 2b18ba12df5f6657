"""The engine on a real database: lines with provenance, ledger postings, redelivery, edits, deletions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from core.db import Database
from ib.commission_queries import get_line
from ib.engine import process_deals
from ib.models import CommissionLine
from ledger.models import Transfer
from mt_bridge.records import DealEntry
from tests.integration.ib.world import DAY1, SERVER, build_world, deal

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
LEVELS = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200, 100]}}
THE_LINE = "deal_id = :deal AND beneficiary_id = :beneficiary AND rule_id = :rule"


async def three_levels(db: Database):
    # A (top) <- B <- C; client 100 is C's, client 101 is B's.
    return await build_world(
        db,
        rules=[FIXED, LEVELS],
        ibs=[("A", 1, None, "gold"), ("B", 2, "A", "silver"), ("C", 3, "B", "bronze")],
        clients={100: "C", 101: "B"},
    )


async def test_a_closing_deal_pays_its_upline_and_posts_to_the_ledger(db: Database) -> None:
    world = await three_levels(db)
    # Client 100 closes 2 lots: C (level 1) 2 x 700 = 1400; B (level 2) 2 x 200 = 400;
    # A (level 3) 2 x 100 = 200.
    outcome = await process_deals(db, SERVER, [deal(1, 5100, lots="2")])
    assert outcome.stored == 1
    assert await world.line_totals() == {"C": 1400, "B": 400, "A": 200}
    assert await world.payables() == {"C": 1400, "B": 400, "A": 200}


async def test_lines_carry_their_provenance(db: Database) -> None:
    world = await three_levels(db)
    await process_deals(db, SERVER, [deal(1, 5100, lots="0.35")])
    async with db.session() as session:
        lines = (await session.scalars(select(CommissionLine).order_by(CommissionLine.level))).all()
    first = lines[0]
    assert (first.beneficiary_id, first.level, first.rank_code, first.kind) == (
        world.ids["C"],
        1,
        "bronze",
        "fixed",
    )
    assert first.scheme_version_id == world.version_id
    # 0.35 x 700 = 245 exactly
    assert first.amount == 245
    # A planned rule's line names its plan's basis; its provenance is read through the IB's view.
    assert first.basis_id is not None
    assert first.inputs is None
    assert first.formula is None
    async with db.session() as session:
        view = await get_line(session, world.ids["C"], first.deal_id, first.rule_id)
    assert view.inputs["lots"] == "0.35"
    assert view.inputs["own_rate"] == "700"
    assert "0.35 lots * 700 per lot = 245" in view.formula
    # level 3: 0.35 x 100 = 35; level 2: 0.35 x 200 = 70
    assert [(line.level, line.amount) for line in lines[1:]] == [(2, 70), (3, 35)]


async def test_opening_deals_and_money_deals_earn_nothing(db: Database) -> None:
    world = await three_levels(db)
    await process_deals(db, SERVER, [deal(1, 5100, entry=0, lots="3")])
    assert await world.line_totals() == {}


async def test_redelivery_changes_nothing(db: Database) -> None:
    world = await three_levels(db)
    batch = [deal(1, 5100, lots="1"), deal(2, 5101, lots="0.5")]
    await process_deals(db, SERVER, batch)
    before = (await world.line_totals(), await world.payables())
    again = await process_deals(db, SERVER, batch)
    assert (again.stored, again.unchanged, again.transfer_ids) == (0, 2, [])
    assert (await world.line_totals(), await world.payables()) == before
    async with db.session() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Transfer)) == 3 + 0
        )  # C, B, A for the batch


async def test_an_edited_deal_posts_only_the_difference(db: Database) -> None:
    world = await three_levels(db)
    await process_deals(db, SERVER, [deal(1, 5100, lots="2")])
    # The dealer corrects the volume to 1.5 lots: C 1050 (-350), B 300 (-100), A 150 (-50).
    await process_deals(db, SERVER, [deal(1, 5100, lots="1.5")])
    assert await world.line_totals() == {"C": 1050, "B": 300, "A": 150}
    assert await world.payables() == {"C": 1050, "B": 300, "A": 150}
    async with db.session() as session:
        codes = (await session.scalars(select(Transfer.code).order_by(Transfer.id))).all()
    assert codes == ["ib.commission"] * 3 + ["ib.clawback"] * 3


async def test_a_deleted_deal_is_clawed_back(db: Database) -> None:
    world = await three_levels(db)
    await process_deals(db, SERVER, [deal(1, 5100, lots="1"), deal(2, 5100, lots="1")])
    await process_deals(db, SERVER, [], deleted_tickets=[2])
    assert await world.line_totals() == {"C": 700, "B": 200, "A": 100}
    assert await world.payables() == {"C": 700, "B": 200, "A": 100}
    async with db.session() as session:
        zeroed = (await session.scalars(select(CommissionLine).where(CommissionLine.amount == 0))).all()
    assert len(zeroed) == 3
    assert all(line.revision == 2 for line in zeroed)


async def test_unknown_logins_are_counted_not_paid(db: Database) -> None:
    world = await three_levels(db)
    outcome = await process_deals(db, SERVER, [deal(1, 9999)])
    assert outcome.unknown_login == 1
    assert await world.line_totals() == {}


async def test_a_deal_before_the_client_was_attributed_pays_nobody(db: Database) -> None:
    world = await three_levels(db)
    await process_deals(db, SERVER, [deal(1, 5100, time=DAY1 - timedelta(days=60))])
    assert await world.line_totals() == {}


async def test_edits_back_and_forth_always_move_the_money(db: Database) -> None:
    world = await three_levels(db)
    # 1 lot, 2 lots, 1 lot, 2 lots: each edit must post (a replayed key would leave the ledger behind).
    for lots in ("1", "2", "1", "2"):
        await process_deals(db, SERVER, [deal(1, 5100, lots=lots)])
    assert await world.line_totals() == {"C": 1400, "B": 400, "A": 200}
    assert await world.payables() == {"C": 1400, "B": 400, "A": 200}
    # Deleted, then delivered again.
    await process_deals(db, SERVER, [], deleted_tickets=[1])
    assert await world.payables() == {}
    await process_deals(db, SERVER, [deal(1, 5100, lots="1")])
    assert await world.payables() == {"C": 700, "B": 200, "A": 100}


async def test_reversals_and_close_by_pay_on_the_volume_that_closed(db: Database) -> None:
    world = await three_levels(db)
    # INOUT of 3 lots that closed 1 lot (and opened 2 the other way): fixed 700 x 1 = 700 to C.
    # OUT_BY closing 0.5 lot: 350 to C. Levels: B 200 x 1.5 = 300; A 100 x 1.5 = 150.
    reversal = replace(deal(1, 5100, lots="3", entry=DealEntry.INOUT), volume_closed=Decimal(1))
    close_by = deal(2, 5100, lots="0.5", entry=DealEntry.OUT_BY)
    await process_deals(db, SERVER, [reversal, close_by])
    assert await world.payables() == {"C": 1050, "B": 300, "A": 150}


async def test_a_line_must_name_an_existing_deal_beneficiary_and_rule_of_its_version(db: Database) -> None:
    """Lines carry no foreign keys; the triggers that replaced them refuse what the keys refused: a
    line naming a missing deal, partner or rule (or a rule of another version), on INSERT and on an
    UPDATE of those columns, and deleting or re-keying a deal, partner or rule that a line names."""
    world = await three_levels(db)
    await process_deals(db, SERVER, [deal(1, 5100, lots="1")])
    async with db.session() as session:
        line = (await session.scalars(select(CommissionLine).where(CommissionLine.level == 1))).one()
        other_version = (
            await session.execute(text("SELECT max(id) + 1 FROM ib_scheme_version"))
        ).scalar_one()
    columns = (
        "deal_id, beneficiary_id, rule_id, scheme_version_id, rule_code, kind, level, rank_code,"
        " trader_client_id, deal_time, currency, amount, inputs, formula, revision, computed_at"
    )
    good = {
        "deal": line.deal_id,
        "beneficiary": world.ids["A"],
        "rule": line.rule_id,
        "version": line.scheme_version_id,
    }
    bad_lines = {
        "missing deal": {**good, "deal": line.deal_id + 1000},
        "missing beneficiary": {**good, "beneficiary": world.ids["A"] + 1000},
        "missing rule": {**good, "rule": line.rule_id + 1000},
        "rule of another version": {**good, "version": other_version},
    }
    insert_line = text(
        f"INSERT INTO ib_commission_line ({columns}) VALUES (:deal, :beneficiary, :rule, :version,"
        " 'fixed', 'fixed', 3, NULL, 100, CURRENT_TIMESTAMP, 'USD', 1, '{}', 'test', 1, CURRENT_TIMESTAMP)"
    )
    key = {"deal": line.deal_id, "beneficiary": line.beneficiary_id, "rule": line.rule_id}
    for values in bad_lines.values():
        with pytest.raises(IntegrityError, match="must name an existing deal"):
            async with db.engine.begin() as connection:
                await connection.execute(insert_line, values)
    for column, value in (("deal_id", line.deal_id + 1000), ("scheme_version_id", other_version)):
        with pytest.raises(IntegrityError, match="must name an existing deal"):
            async with db.engine.begin() as connection:
                await connection.execute(
                    text(f"UPDATE ib_commission_line SET {column} = :value WHERE {THE_LINE}"),
                    {"value": value, **key},
                )
    named = {
        "ib_deal": line.deal_id,
        "ib_partner": line.beneficiary_id,
        "ib_rule": line.rule_id,
    }
    for table, row_id in named.items():
        for statement in (
            f"DELETE FROM {table} WHERE id = :id",
            f"UPDATE {table} SET id = id + 1000 WHERE id = :id",
        ):
            with pytest.raises(IntegrityError, match="a commission line names this row"):
                async with db.engine.begin() as connection:
                    await connection.execute(text(statement), {"id": row_id})
    # A good line goes in, and an update that leaves the references alone is not checked at all.
    async with db.engine.begin() as connection:
        await connection.execute(insert_line, good)
        await connection.execute(
            text(f"UPDATE ib_commission_line SET amount = 2, revision = 2 WHERE {THE_LINE}"), key
        )
    assert await world.line_totals() == {"C": 2, "B": 200, "A": 101}

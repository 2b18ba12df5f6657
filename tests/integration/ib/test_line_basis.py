"""Line bases: a stored line reads exactly as the calculation explained it.

The engine stores a plan's rule arguments once (``ib_line_basis``) and each line names them; the IB's
view renders the explanation from the basis and the stored deal. These tests compare that
rendering, for every planned rule kind, with the explanation the calculation gives in memory, and
check the collision guard and a line that no longer applies.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.db import Database
from ib.commission_queries import get_line
from ib.engine import compute_lines, load_deal_rows, process_deals
from ib.line_basis import Basis, BasisCollisionError, basis_of, decode_arguments, save_bases
from ib.models import CommissionLine, LineBasis, StoredDeal
from tests.integration.ib.world import SERVER, build_world, deal
from tests.unit.ib.scenarios import EVERY_PLANNED_RULE

EVERY_RULE = [*EVERY_PLANNED_RULE, {"code": "override", "kind": "overriding", "params": {"percent": "10"}}]


async def chain(db: Database):
    # A (gold) <- B (silver) <- C (bronze); client 100 is C's.
    return await build_world(
        db,
        rules=EVERY_RULE,
        ibs=[("A", 1, None, "gold"), ("B", 2, "A", "silver"), ("C", 3, "B", "bronze")],
        clients={100: "C"},
    )


async def test_every_planned_rule_reads_back_as_the_calculation_explained_it(db: Database) -> None:
    world = await chain(db)
    await process_deals(
        db,
        SERVER,
        [
            deal(1, 5100, lots="1.37", commission=-333, profit=777),
            deal(2, 5100, lots="0.07", symbol="XAUUSD", contract_size="100", profit=-50),
        ],
    )
    async with db.session() as session:
        rows = await load_deal_rows(session, list((await session.scalars(select(StoredDeal.id))).all()))
        expected_lines, ids = await compute_lines(session, rows)
        expected = {
            (ids[(line.server, line.ticket)], line.beneficiary_id, line.rule_id): (
                line.amount,
                dict(line.inputs),
                line.formula,
            )
            for line in expected_lines
        }
        stored = (await session.scalars(select(CommissionLine))).all()
        kinds = {line.kind for line in stored if line.basis_id is not None}
        read_back = {}
        for line in stored:
            view = await get_line(session, line.beneficiary_id, line.deal_id, line.rule_id)
            read_back[(line.deal_id, line.beneficiary_id, line.rule_id)] = (
                view.amount,
                view.inputs,
                view.formula,
            )
    assert read_back == expected
    # Every kind was stored by basis: the planned ones with their plan's arguments, overriding with
    # its sub-IB and percentage (what the sub-IB earned is read back from the sub-IB's lines).
    assert kinds == {"fixed", "per_level", "rank_differential", "spread_share", "platform_commission_share",
                     "profit_share", "overriding"}  # fmt: skip
    assert all(line.inputs is None for line in stored)
    # Spot-check one by hand: C's fixed line on 1.37 lots at 700 per lot = 959.
    fixed = next(v for k, v in read_back.items() if v[2].startswith("1.37 lots * 700 per lot"))
    assert fixed[0] == 959
    assert fixed[1]["lots"] == "1.37"
    assert world.ids["C"] in {key[1] for key in read_back}


async def test_a_plan_stores_its_basis_once_for_all_its_deals(db: Database) -> None:
    await chain(db)
    await process_deals(db, SERVER, [deal(n, 5100, lots=str(n)) for n in range(1, 21)])
    async with db.session() as session:
        bases = await session.scalar(select(func.count()).select_from(LineBasis))
        fixed_lines = await session.scalar(
            select(func.count()).select_from(CommissionLine).where(CommissionLine.kind == "fixed")
        )
    # Twenty EURUSD deals of one route, no charge and no profit: fixed pays C (1 basis), levels B
    # and A (2), ranks C and A (2), overriding B on C's and A on B's (2); platform and profit pay
    # nothing, so name no basis.
    assert fixed_lines == 20
    assert bases == 1 + 2 + 2 + 2


async def test_a_deleted_deal_keeps_its_inputs_under_a_formula_that_says_so(db: Database) -> None:
    world = await chain(db)
    await process_deals(db, SERVER, [deal(1, 5100, lots="2")])
    await process_deals(db, SERVER, [], deleted_tickets=[1])
    async with db.session() as session:
        line = await session.scalar(
            select(CommissionLine).where(
                CommissionLine.kind == "fixed", CommissionLine.beneficiary_id == world.ids["C"]
            )
        )
        assert line is not None
        assert line.amount == 0
        assert line.basis_id is not None
        view = await get_line(session, world.ids["C"], line.deal_id, line.rule_id)
    assert view.formula == "no longer applies (was 1400)"
    assert view.inputs["lots"] == "2"
    assert view.inputs["own_rate"] == "700"


async def test_two_bases_with_one_id_refuse_the_batch(db: Database) -> None:
    real = basis_of("fixed", (700, 700, 0, None), 5)
    async with db.transaction() as session:
        await save_bases(session, {real.id: real})
    forged = Basis(real.id, "fixed", "[800,800,0,null]", 5)
    with pytest.raises(BasisCollisionError):
        async with db.transaction() as session:
            await save_bases(session, {forged.id: forged})
    async with db.session() as session:
        (stored,) = (await session.scalars(select(LineBasis))).all()
    assert stored.arguments == real.arguments


def test_arguments_come_back_equal_and_hashable() -> None:
    arguments = (Decimal("30"), Decimal("2.50"), "profit", None, 7, (("bronze", 30), ("gold", 20)))
    basis = basis_of("rank_differential", arguments, None)
    decoded = decode_arguments(basis.arguments)
    assert decoded == arguments
    assert hash(decoded) == hash(arguments)
    assert basis_of("rank_differential", arguments, None).id == basis.id
    assert basis_of("rank_differential", arguments, 2).id != basis.id


async def test_a_basis_remembered_as_stored_still_refuses_another_content_with_its_id(
    db: Database,
) -> None:
    """The process remembers the bases it saw committed and skips saving them again; a colliding
    basis is refused all the same, from memory."""
    real = basis_of("fixed", (700, 700, 0, None), 5)
    for _ in range(2):  # the second save is the remembered one
        async with db.transaction() as session:
            await save_bases(session, {real.id: real})
    with pytest.raises(BasisCollisionError):
        async with db.transaction() as session:
            await save_bases(session, {real.id: Basis(real.id, "fixed", "[800,800,0,null]", 5)})


async def test_a_basis_saved_by_a_rolled_back_batch_is_saved_again_by_the_next(db: Database) -> None:
    basis = basis_of("fixed", (650, 650, 0, None), 5)
    with pytest.raises(RuntimeError):
        await _save_then_fail(db, basis)
    async with db.session() as session:
        assert (await session.scalar(select(func.count()).select_from(LineBasis))) == 0
    async with db.transaction() as session:
        await save_bases(session, {basis.id: basis})
    async with db.session() as session:
        assert (await session.scalars(select(LineBasis.id))).all() == [basis.id]


async def _save_then_fail(db: Database, basis: Basis) -> None:
    async with db.transaction() as session:
        await save_bases(session, {basis.id: basis})
        raise RuntimeError("the batch fails after naming its bases")

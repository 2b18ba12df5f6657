"""Partners and the tree: applications, approval with scheme and rank, moves from a date, cycles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from ib import partners
from ib.engine import process_deals
from ib.errors import ApplicationStateError, CycleError, EffectiveDateError
from ib.hierarchy import move_partner, tree_at
from ib.models import PartnerEdge, PartnerTerms
from tests.integration.ib.world import DAY1, SERVER, STAFF, T0, build_world, deal

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
LEVELS = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200, 100]}}


async def test_application_approved_with_scheme_and_rank_and_audited(db: Database) -> None:
    world = await build_world(db, rules=[FIXED], ibs=[("A", 1, None, "gold")], clients={100: "A"})
    async with db.transaction() as session:
        application = await partners.apply(
            session, 100, actor="client:100", now=DAY1, message="I run a forum"
        )
        with pytest.raises(ApplicationStateError):
            await partners.apply(session, 100, actor="client:100", now=DAY1)
    async with db.transaction() as session:
        partner = await partners.approve(
            session, application.id, scheme_id=world.scheme_id, rank_code="silver", actor=STAFF, now=DAY1
        )
        terms = await session.scalar(select(PartnerTerms).where(PartnerTerms.partner_id == partner.id))
        # Client 100 was A's referral, so the new IB sits under A from its approval.
        edge = await session.scalar(select(PartnerEdge).where(PartnerEdge.partner_id == partner.id))
        events = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target_type == "application", AuditEvent.target_id == str(application.id))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert (terms.scheme_id, terms.rank_code) == (world.scheme_id, "silver")
    assert edge.parent_id == world.ids["A"]
    assert events == ["ib.application_submitted", "ib.application_approved"]
    async with db.transaction() as session:
        with pytest.raises(ApplicationStateError, match="already approved"):
            await partners.reject(session, application.id, actor=STAFF, now=DAY1, reason="late")


async def test_rejection_needs_a_reason_and_is_final(db: Database) -> None:
    async with db.transaction() as session:
        application = await partners.apply(session, 7, actor="client:7", now=DAY1)
        with pytest.raises(ApplicationStateError, match="reason"):
            await partners.reject(session, application.id, actor=STAFF, now=DAY1, reason=" ")
        rejected = await partners.reject(session, application.id, actor=STAFF, now=DAY1, reason="no website")
        assert rejected.status == "rejected"
        assert await partners.partner_for_client(session, 7) is None


async def test_moving_a_sub_ib_applies_from_its_date_and_keeps_the_past(db: Database) -> None:
    # A <- B <- C and a separate top IB X; client 100 is C's. Per level [0, 200, 100].
    world = await build_world(
        db,
        rules=[LEVELS],
        ibs=[("A", 1, None, None), ("B", 2, "A", None), ("C", 3, "B", None), ("X", 4, None, None)],
        clients={100: "C"},
    )
    await process_deals(db, SERVER, [deal(1, 5100, lots="1", time=DAY1)])
    assert await world.payables() == {"B": 200, "A": 100}
    move_at = DAY1 + timedelta(days=1)
    async with db.transaction() as session:
        await move_partner(
            session,
            world.ids["C"],
            world.ids["X"],
            effective_from=move_at,
            actor=STAFF,
            now=DAY1,
            reason="asked",
        )
    # The published commissions of deal 1 are untouched; a deal after the move pays X at level 2.
    await process_deals(db, SERVER, [deal(2, 5100, lots="1", time=move_at + timedelta(hours=1))])
    assert await world.payables() == {"B": 200, "A": 100, "X": 200}
    async with db.session() as session:
        before = [node.as_json() for node in await tree_at(session, DAY1)]
        after = [node.as_json() for node in await tree_at(session, move_at)]
    ids = world.ids

    def shape(nodes: list[dict[str, object]]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for node in nodes:
            out[node["partner_id"]] = [child["partner_id"] for child in node["children"]]  # type: ignore[index]
            out.update(shape(node["children"]))  # type: ignore[arg-type]
        return out

    assert shape(before) == {ids["A"]: [ids["B"]], ids["B"]: [ids["C"]], ids["C"]: [], ids["X"]: []}
    assert shape(after) == {ids["A"]: [ids["B"]], ids["B"]: [], ids["X"]: [ids["C"]], ids["C"]: []}
    # The client hangs under C in both pictures.
    assert before[0]["children"][0]["children"][0]["clients"] == [100]  # type: ignore[index]


async def test_cycles_and_history_rewrites_are_refused(db: Database) -> None:
    world = await build_world(
        db, rules=[FIXED], ibs=[("A", 1, None, None), ("B", 2, "A", None), ("C", 3, "B", None)], clients={}
    )
    ids = world.ids
    async with db.transaction() as session:
        with pytest.raises(CycleError):
            await move_partner(
                session, ids["A"], ids["C"], effective_from=DAY1, actor=STAFF, now=DAY1, reason="x"
            )
        with pytest.raises(CycleError):
            await move_partner(
                session, ids["A"], ids["A"], effective_from=DAY1, actor=STAFF, now=DAY1, reason="x"
            )
        with pytest.raises(EffectiveDateError):
            await move_partner(
                session, ids["C"], ids["A"], effective_from=T0, actor=STAFF, now=DAY1, reason="x"
            )
    # A future move of C under A, then A under B before it: B is under A, so A can't go under B.
    async with db.transaction() as session:
        await move_partner(
            session,
            ids["C"],
            ids["A"],
            effective_from=DAY1 + timedelta(days=5),
            actor=STAFF,
            now=DAY1,
            reason="x",
        )
        with pytest.raises(CycleError):
            await move_partner(
                session, ids["A"], ids["B"], effective_from=DAY1, actor=STAFF, now=DAY1, reason="x"
            )
        # Under C from a date after C moved under A: also a loop (C is then A's sub-IB).
        with pytest.raises(CycleError):
            await move_partner(
                session,
                ids["A"],
                ids["C"],
                effective_from=DAY1 + timedelta(days=9),
                actor=STAFF,
                now=DAY1,
                reason="x",
            )

"""The tree editor: a move or a reassignment from an effective date changes the tree shown for
that date and later, never for earlier dates, and never a published commission; a cycle is
refused with a message and nothing changes."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from ib.engine import process_deals
from ib.models import ClientLink, PartnerEdge, PartnerTerms
from tests.integration.ib.staff_desk import IB_MANAGER, flashes, post_form, sign_in_ib_manager, tree_shown
from tests.integration.ib.world import SERVER, World, build_world, deal

pytestmark = pytest.mark.asyncio

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
LEVELS = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200]}}


async def three_ibs(db: Database) -> World:
    # A (top) ← B; C (top). Client 100 is B's.
    return await build_world(
        db,
        rules=[FIXED, LEVELS],
        ibs=[("A", 9001, None, None), ("B", 9002, "A", None), ("C", 9003, None, None)],
        clients={100: "B"},
    )


async def edge_count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(PartnerEdge)) or 0)


async def test_a_move_applies_from_its_date_and_leaves_published_commissions(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await three_ibs(db)
    a, b, c = world.ids["A"], world.ids["B"], world.ids["C"]
    # Client 100 closes 1 lot on 2 Nov: B 700 (fixed), A 200 (level 2).
    await process_deals(db, SERVER, [deal(1, 5100, lots="1")])
    assert await world.payables() == {"B": 700, "A": 200}
    await sign_in_ib_manager(backoffice_client, db, settings)
    moved = await post_form(
        backoffice_client,
        "/ib/tree",
        "/ib/tree/move",
        {"partner": str(b), "parent": str(c), "effective_from": "2026-11-10", "reason": "desk restructure"},
    )
    assert flashes(moved.text) == ["The IB was moved."]
    parents, _clients = tree_shown(moved.text)  # back on the tree at the move's date
    assert parents[b] == c
    before, _ = tree_shown((await backoffice_client.get("/ib/tree?at=2026-11-09T23:59")).text)
    assert (before[b], before[a], before[c]) == (a, None, None)
    later, clients = tree_shown((await backoffice_client.get("/ib/tree?at=2026-11-20")).text)
    assert (later[b], later[a], later[c]) == (c, None, None)
    assert clients == {100: b}
    # The commission published for the deal of 2 Nov is untouched: A keeps its level-2 line.
    assert await world.payables() == {"B": 700, "A": 200}
    assert await world.line_totals() == {"B": 700, "A": 200}
    async with db.session() as session:
        event = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "ib.partner_moved")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    assert event is not None
    assert event.actor_email == IB_MANAGER
    assert event.after is not None
    assert event.after["parent_id"] == c
    assert event.after["reason"] == "desk restructure"
    assert event.before == {"parent_id": a}


async def test_a_cycle_is_refused_and_nothing_changes(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await three_ibs(db)
    a, b = world.ids["A"], world.ids["B"]
    await sign_in_ib_manager(backoffice_client, db, settings)
    edges = await edge_count(db)
    refused = await post_form(
        backoffice_client,
        "/ib/tree",
        "/ib/tree/move",
        {"partner": str(a), "parent": str(b), "effective_from": "2026-11-10", "reason": "try"},
    )
    assert flashes(refused.text) == [f"IB {b} is IB {a} or one of its sub-IBs"]
    assert await edge_count(db) == edges
    parents, _ = tree_shown((await backoffice_client.get("/ib/tree?at=2026-11-20")).text)
    assert (parents[a], parents[b]) == (None, a)
    for bad, message in [
        ({"partner": str(b), "parent": "", "effective_from": "10/11/2026", "reason": "x"}, "effective date"),
        ({"partner": str(b), "parent": "", "effective_from": "2026-11-10", "reason": " "}, "reason"),
        ({"partner": "abc", "parent": "", "effective_from": "2026-11-10", "reason": "x"}, "sub-IB"),
    ]:
        page = await post_form(backoffice_client, "/ib/tree", "/ib/tree/move", bad)
        [shown] = flashes(page.text)
        assert message in shown
    assert await edge_count(db) == edges


async def test_reassigning_a_client_from_a_date(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await three_ibs(db)
    b, c = world.ids["B"], world.ids["C"]
    await sign_in_ib_manager(backoffice_client, db, settings)
    no_reason = await post_form(
        backoffice_client,
        "/ib/tree",
        "/ib/tree/reassign",
        {"client": "100", "partner": str(c), "effective_from": "2026-11-15", "reason": ""},
    )
    assert flashes(no_reason.text) == ["Give a reason for the reassignment."]
    done = await post_form(
        backoffice_client,
        "/ib/tree",
        "/ib/tree/reassign",
        {"client": "100", "partner": str(c), "effective_from": "2026-11-15", "reason": "client asked"},
    )
    assert flashes(done.text) == ["The client was reassigned."]
    _, earlier = tree_shown((await backoffice_client.get("/ib/tree?at=2026-11-14")).text)
    _, later = tree_shown((await backoffice_client.get("/ib/tree?at=2026-11-15")).text)
    assert (earlier, later) == ({100: b}, {100: c})
    async with db.session() as session:
        links = (await session.scalars(select(ClientLink).where(ClientLink.client_id == 100))).all()
        event = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "ib.client_reassigned")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    assert sorted((link.partner_id, link.valid_to is None) for link in links) == sorted(
        [(b, False), (c, True)]
    )
    assert event is not None
    assert event.actor_email == IB_MANAGER


async def test_changing_an_ibs_rank_from_a_date(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await three_ibs(db)
    b = world.ids["B"]
    await sign_in_ib_manager(backoffice_client, db, settings)
    form = {"partner": str(b), "scheme_id": str(world.scheme_id), "rank": "gold", "reason": "promotion"}
    done = await post_form(
        backoffice_client, "/ib/tree", "/ib/tree/terms", {**form, "effective_from": "2026-11-15"}
    )
    assert flashes(done.text) == ["The IB's terms were changed."]
    earlier = await backoffice_client.get("/ib/tree?at=2026-11-14")
    later = await backoffice_client.get("/ib/tree?at=2026-11-15")
    assert f'data-partner="{b}" data-rank=""' in earlier.text
    assert f'data-partner="{b}" data-rank="gold"' in later.text
    # Terms can't be changed before the current ones start: refused, nothing written.
    refused = await post_form(
        backoffice_client, "/ib/tree", "/ib/tree/terms", {**form, "effective_from": "2026-11-01"}
    )
    assert flashes(refused.text) == ["new terms must start after the current ones"]
    async with db.session() as session:
        ranks = [
            t.rank_code
            for t in await session.scalars(
                select(PartnerTerms).where(PartnerTerms.partner_id == b).order_by(PartnerTerms.effective_from)
            )
        ]
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "ib.terms_changed"))
    assert ranks == [None, "gold"]
    assert event is not None
    assert event.actor_email == IB_MANAGER

"""Attribution: links and codes with campaigns, counters, registration, staff reassignment, QR codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from core.db import Database
from ib import attribution
from ib.engine import process_deals
from ib.errors import AttributionError, EffectiveDateError
from ib.models import ClientLink
from tests.integration.ib.world import DAY1, SERVER, STAFF, build_world, deal

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}


async def test_links_count_clicks_and_registrations_and_attribute_the_client(db: Database) -> None:
    world = await build_world(db, rules=[FIXED], ibs=[("A", 1, None, None), ("B", 2, None, None)], clients={})
    async with db.transaction() as session:
        forum = await attribution.create_link(
            session, world.ids["A"], campaign="forum", actor="client:1", now=DAY1
        )
        youtube = await attribution.create_link(
            session, world.ids["A"], campaign="youtube", actor="client:1", now=DAY1
        )
        other = await attribution.create_link(
            session, world.ids["B"], actor="client:2", now=DAY1, code="bob2026"
        )
    assert forum.code != youtube.code
    assert other.code == "BOB2026"
    async with db.transaction() as session:
        await attribution.record_click(session, forum.code)
        await attribution.record_click(session, forum.code.lower())
        await attribution.record_click(session, youtube.code)
        link = await attribution.register_through_link(session, 100, forum.code, now=DAY1)
        assert link.partner_id == world.ids["A"]
        # First valid claim wins: a second registration or code for the same client is refused.
        with pytest.raises(AttributionError, match="already attributed"):
            await attribution.register_through_link(session, 100, "BOB2026", now=DAY1, source="code")
        with pytest.raises(AttributionError, match="unknown"):
            await attribution.record_click(session, "NOPE")
    async with db.session() as session:
        forum_now = await attribution.active_link(session, forum.code)
        youtube_now = await attribution.active_link(session, youtube.code)
    assert (forum_now.clicks, forum_now.registrations) == (2, 1)
    assert (youtube_now.clicks, youtube_now.registrations) == (1, 0)
    svg = attribution.qr_svg(attribution.referral_url("https://portal.example", forum.code))
    assert svg.startswith("<svg")
    assert "path" in svg


async def test_staff_reassign_with_a_reason_from_a_date(db: Database) -> None:
    world = await build_world(
        db, rules=[FIXED], ibs=[("A", 1, None, None), ("B", 2, None, None)], clients={100: "A"}
    )
    move_at = DAY1 + timedelta(days=1)
    async with db.transaction() as session:
        with pytest.raises(AttributionError, match="reason"):
            await attribution.reassign_client(
                session, 100, world.ids["B"], effective_from=move_at, reason="", actor=STAFF, now=DAY1
            )
        await attribution.reassign_client(
            session,
            100,
            world.ids["B"],
            effective_from=move_at,
            reason="dispute #12 won by B",
            actor=STAFF,
            now=DAY1,
        )
        with pytest.raises(EffectiveDateError):
            await attribution.reassign_client(
                session, 100, world.ids["A"], effective_from=DAY1, reason="oops", actor=STAFF, now=DAY1
            )
    # A deal before the date still pays A; one after pays B.
    await process_deals(
        db, SERVER, [deal(1, 5100, time=DAY1), deal(2, 5100, time=move_at + timedelta(minutes=1))]
    )
    assert await world.payables() == {"A": 700, "B": 700}


async def test_one_open_attribution_per_client_is_enforced_by_the_database(db: Database) -> None:
    world = await build_world(
        db, rules=[FIXED], ibs=[("A", 1, None, None), ("B", 2, None, None)], clients={100: "A"}
    )
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(
                ClientLink(
                    client_id=100,
                    partner_id=world.ids["B"],
                    valid_from=DAY1,
                    source="staff",
                    created_by=STAFF,
                )
            )

"""Staff pages for IB applications: every IB page opens for ib.manage and is refused without it;
approving creates the partner with the chosen scheme and rank and an audit row naming the staff
member; a rejection needs a reason; staff can make an existing client an IB."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from ib import partners
from ib.models import Application, Partner, PartnerTerms, RecomputeRun
from tests.apps import backoffice_app
from tests.helpers import make_client, make_staff, staff_sign_in, submit
from tests.integration.ib.staff_desk import IB_MANAGER, flashes, post_form, sign_in_ib_manager
from tests.integration.ib.world import DAY1, STAFF, T0, World, build_world

pytestmark = pytest.mark.asyncio

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}


async def small_world(db: Database) -> World:
    return await build_world(db, rules=[FIXED], ibs=[("A", 9001, None, "gold")], clients={9100: "A"})


async def test_every_ib_page_opens_for_ib_managers_and_is_refused_to_others(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await small_world(db)
    async with db.transaction() as session:
        run = RecomputeRun(
            period_start=T0, period_end=DAY1, status="dry_run", diff={"deals": 0, "ibs": []}, created_by=STAFF
        )
        session.add(run)
        await session.flush()
        run_id = run.id
    pages = [
        "/ib/applications",
        "/ib/tree",
        "/ib/tree?at=2026-10-15",
        "/ib/schemes",
        f"/ib/schemes/{world.scheme_id}/versions/new",
        "/ib/recompute",
        f"/ib/recompute/{run_id}",
        "/ib/payouts",
        "/ib/report",
        "/ib/simulator",
    ]
    _id, secret = await make_staff(db, settings, "fin@staff.test", ["finance"])
    assert secret
    async with AsyncTestClient(app=backoffice_app(settings, db)) as finance:
        await staff_sign_in(finance, "fin@staff.test", secret)
        for path in pages:
            refused = await finance.get(path)
            assert refused.status_code == 403, path
    await sign_in_ib_manager(backoffice_client, db, settings)
    for path in pages:
        page = await backoffice_client.get(path)
        assert page.status_code == 200, path
        assert 'href="/ib/simulator"' in page.text  # the IB pages' own navigation
    assert (await backoffice_client.get(f"/ib/recompute/{run_id + 1}")).status_code == 404
    assert (await backoffice_client.get(f"/ib/schemes/{world.scheme_id + 1}/versions/new")).status_code == 404


async def test_approving_an_application_creates_the_partner_with_scheme_rank_and_audit(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await small_world(db)
    client_id = await make_client(db, settings, "ivy@example.test")
    async with db.transaction() as session:
        application = await partners.apply(session, client_id, actor=f"client:{client_id}", now=DAY1)
    await sign_in_ib_manager(backoffice_client, db, settings)
    queue = await backoffice_client.get("/ib/applications")
    assert "ivy@example.test" in queue.text
    page = await post_form(
        backoffice_client,
        "/ib/applications",
        f"/ib/applications/{application.id}/approve",
        {"scheme_id": str(world.scheme_id), "rank": "silver", "reason": "strong forum"},
    )
    assert flashes(page.text) == ["The client is now an IB."]
    async with db.session() as session:
        partner = await session.scalar(select(Partner).where(Partner.client_id == client_id))
        assert partner is not None
        terms = await session.scalar(select(PartnerTerms).where(PartnerTerms.partner_id == partner.id))
        decided = await session.get(Application, application.id)
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "ib.application_approved", AuditEvent.target_id == str(application.id)
            )
        )
    assert terms is not None
    assert (terms.scheme_id, terms.rank_code) == (world.scheme_id, "silver")
    assert decided is not None
    assert (decided.status, decided.partner_id, decided.reason) == ("approved", partner.id, "strong forum")
    assert event is not None
    assert event.actor_email == IB_MANAGER
    assert event.actor_kind == "staff"
    assert event.ip
    assert event.after is not None
    assert event.after["scheme_id"] == world.scheme_id
    assert event.after["rank"] == "silver"
    # Deciding it again is refused with a message, and nothing changes.
    again = await post_form(
        backoffice_client,
        "/ib/applications",
        f"/ib/applications/{application.id}/reject",
        {"reason": "changed my mind"},
    )
    assert flashes(again.text) == [f"application {application.id} is already approved"]
    async with db.session() as session:
        still = await session.get(Application, application.id)
    assert still is not None
    assert still.status == "approved"


async def test_a_rejection_needs_a_reason_and_bad_terms_change_nothing(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await small_world(db)
    client_id = await make_client(db, settings, "max@example.test")
    async with db.transaction() as session:
        application = await partners.apply(session, client_id, actor=f"client:{client_id}", now=DAY1)
    await sign_in_ib_manager(backoffice_client, db, settings)
    url = f"/ib/applications/{application.id}"
    no_reason = await post_form(backoffice_client, "/ib/applications", f"{url}/reject", {"reason": "  "})
    assert flashes(no_reason.text) == ["Give a reason for the rejection."]
    bad_rank = await post_form(
        backoffice_client,
        "/ib/applications",
        f"{url}/approve",
        {"scheme_id": str(world.scheme_id), "rank": "platinum"},
    )
    assert flashes(bad_rank.text) == ["no rank 'platinum'"]
    async with db.session() as session:
        pending = await session.get(Application, application.id)
        assert pending is not None
        assert pending.status == "pending"
        assert await session.scalar(select(Partner).where(Partner.client_id == client_id)) is None
    rejected = await post_form(
        backoffice_client, "/ib/applications", f"{url}/reject", {"reason": "no website"}
    )
    assert flashes(rejected.text) == ["Application rejected."]
    async with db.session() as session:
        decided = await session.get(Application, application.id)
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "ib.application_rejected"))
    assert decided is not None
    assert (decided.status, decided.reason) == ("rejected", "no website")
    assert event is not None
    assert event.actor_email == IB_MANAGER


async def test_staff_make_an_existing_client_an_ib(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await small_world(db)
    client_id = await make_client(db, settings, "zoe@example.test")
    await sign_in_ib_manager(backoffice_client, db, settings)
    unknown = await post_form(
        backoffice_client,
        "/ib/applications",
        "/ib/applications/make-partner",
        {"client": "nobody@example.test", "scheme_id": str(world.scheme_id), "rank": ""},
    )
    assert flashes(unknown.text) == ["No client nobody@example.test."]
    made = await post_form(
        backoffice_client,
        "/ib/applications",
        "/ib/applications/make-partner",
        {"client": "Zoe@Example.test", "scheme_id": str(world.scheme_id), "rank": "bronze"},
    )
    assert flashes(made.text) == ["The client is now an IB."]
    async with db.session() as session:
        partner = await session.scalar(select(Partner).where(Partner.client_id == client_id))
        assert partner is not None
        terms = await session.scalar(select(PartnerTerms).where(PartnerTerms.partner_id == partner.id))
        approvals = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "ib.application_approved", AuditEvent.actor_email == IB_MANAGER)
        )
    assert terms is not None
    assert terms.rank_code == "bronze"
    assert approvals == 1
    twice = await post_form(
        backoffice_client,
        "/ib/applications",
        "/ib/applications/make-partner",
        {"client": str(client_id), "scheme_id": str(world.scheme_id)},
    )
    assert flashes(twice.text) == [f"client {client_id} is already an IB"]


async def test_ib_pages_and_their_messages_speak_chinese(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await small_world(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    switched = await submit(
        backoffice_client, "/ib/tree", "/language", {"language": "zh_Hans", "next": "/ib/tree"}
    )
    assert switched.status_code == 303
    tree = await backoffice_client.get("/ib/tree")
    assert "<h1>IB 层级结构</h1>" in tree.text
    assert "调整下级 IB" in tree.text
    page = await post_form(
        backoffice_client,
        "/ib/applications",
        "/ib/applications/make-partner",
        {"client": "", "scheme_id": str(world.scheme_id)},
    )
    assert flashes(page.text) == ["请填写客户编号或邮箱。"]
    schemes = await backoffice_client.get("/ib/schemes")
    assert "方案与级别" in schemes.text

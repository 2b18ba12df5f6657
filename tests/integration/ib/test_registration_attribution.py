"""Registration through an IB's referral link attributes the new client to that IB (issue #8 point 3)."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.db import Database
from core.identity.models import User
from ib import attribution
from ib.models import ClientLink, ReferralLink
from tests.helpers import STRONG_PASSWORD, submit
from tests.integration.ib.world import DAY1, build_world

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}


async def _register(client: AsyncTestClient, email: str, code: str) -> tuple[int, str]:
    response = await submit(
        client,
        f"/register?ref={code}",
        "/register",
        {"email": email, "password": STRONG_PASSWORD, "referral_code": code},
    )
    return response.status_code, response.text


async def test_a_client_registered_through_a_link_belongs_to_its_ib(
    db: Database, portal_client: AsyncTestClient
) -> None:
    world = await build_world(db, rules=[FIXED], ibs=[("A", 1, None, None)], clients={})
    async with db.transaction() as session:
        link = await attribution.create_link(
            session, world.ids["A"], campaign="forum", actor="client:1", now=DAY1
        )

    status, page = await _register(portal_client, "new.trader@example.test", link.code.lower())

    assert status == 200
    assert "check your inbox" in page.lower()
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == "new.trader@example.test"))
        assert user is not None
        owner = await session.scalar(select(ClientLink).where(ClientLink.client_id == user.id))
        counted = await session.scalar(select(ReferralLink.registrations).where(ReferralLink.id == link.id))
    assert owner is not None
    assert (owner.partner_id, owner.referral_link_id, owner.valid_to) == (world.ids["A"], link.id, None)
    assert counted == 1


async def test_an_unknown_code_is_refused_and_nothing_is_registered(
    db: Database, portal_client: AsyncTestClient
) -> None:
    await build_world(db, rules=[FIXED], ibs=[("A", 1, None, None)], clients={})
    new_email = await _register(portal_client, "someone.new@example.test", "NOSUCHCODE")
    malformed = await _register(portal_client, "someone.else@example.test", "<b>x</b>")
    first, _ = await _register(portal_client, "taken@example.test", "")
    # A taken email with an unknown code gets the same answer as a new one: no hint of who is registered.
    taken_email = await _register(portal_client, "taken@example.test", "NOSUCHCODE")

    assert first == 200
    for status, page in (new_email, malformed, taken_email):
        assert status == 400
        assert "This referral code is not known" in page
    assert "<b>x</b>" not in malformed[1]
    async with db.session() as session:
        users = await session.scalar(
            select(func.count()).select_from(User).where(User.email.like("someone%"))
        )
        links = await session.scalar(select(func.count()).select_from(ClientLink))
    assert (users, links) == (0, 0)

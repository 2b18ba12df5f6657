"""The IB demo seeder: a three-level network whose lowest IB referred the KYC demo clients."""

from __future__ import annotations

from sqlalchemy import select

from cli.seed import SEEDERS, seed_demo
from cli.seed_ib import seed_ib
from core import clock
from core.db import Database
from core.identity.models import User
from core.settings import Settings
from ib.hierarchy import tree_at
from ib.models import ClientLink, ReferralLink


async def test_a_three_level_network_is_seeded_once(db: Database, settings: Settings) -> None:
    assert seed_ib in SEEDERS
    first = await seed_demo(db, settings)
    second = await seed_demo(db, settings)
    assert first == second
    assert any("ib-master@demo.brokerdesk.test" in line and "DEMOMASTER" in line for line in first)
    async with db.session() as session:
        emails = {u.id: u.email for u in await session.scalars(select(User))}
        (master,) = await tree_at(session, clock.utcnow())
        codes = set(await session.scalars(select(ReferralLink.code)))
        referred = {emails[c] for c in await session.scalars(select(ClientLink.client_id))}
    levels = {emails[node.client_id]: (depth, node.rank) for node, depth in master.walk()}
    assert levels == {
        "ib-master@demo.brokerdesk.test": (0, "gold"),
        "ib-agent@demo.brokerdesk.test": (1, "silver"),
        "ib-sub@demo.brokerdesk.test": (2, "bronze"),
    }
    (sub,) = [node for node, depth in master.walk() if depth == 2]
    assert (
        {emails[c] for c in sub.clients}
        == referred
        == {
            "kyc-basic@demo.brokerdesk.test",
            "kyc-review@demo.brokerdesk.test",
            "kyc-verified@demo.brokerdesk.test",
        }
    )
    assert codes == {"DEMOMASTER", "DEMOAGENT", "DEMOSUB"}

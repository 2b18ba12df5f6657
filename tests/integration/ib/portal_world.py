"""An IB network with real users behind it, seeded through the engine, for the IB portal tests.

    A (top)            C (top, another network)
    └── B (sub-IB of A)
client X under B, client Y under A, client Z under C, N a client with no IB profile.

Scheme: ``fixed`` 7.00 USD a lot at level 1, ``levels`` 2.00 USD a lot at level 2.
Deals (all closing), hand-worked per IB:
    today       X 1 lot EURUSD   -> B 700 (fixed, L1), A 200 (levels, L2)
    today       Y 2 lots XAUUSD  -> A 1400 (fixed, L1)
    today       Z 1 lot EURUSD   -> C 700
    last month  Y 1 lot EURUSD   -> A 700
So A earned 16.00 today and this month (1400 at level 1, 200 at level 2) and 23.00 in all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core import clock
from core.db import Database
from core.settings import Settings
from ib.engine import process_deals
from ib.models import CommissionLine
from ib.query_common import day_start, month_start
from tests.helpers import client_sign_in, make_client
from tests.integration.ib.world import SERVER, World, build_world, deal

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
LEVELS = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200]}}
EMAILS = {
    "A": "alice.ib@example.test",
    "B": "bob.ib@example.test",
    "C": "carol.ib@example.test",
    "X": "xavier@example.test",
    "Y": "yasmin@example.test",
    "Z": "zoe@example.test",
    "N": "nora@example.test",
}


@dataclass
class PortalWorld:
    world: World
    users: dict[str, int]
    """person -> user (client) id"""
    today: datetime
    last_month: datetime
    tickets: dict[str, int]

    def partner(self, name: str) -> int:
        return self.world.ids[name]

    def login(self, person: str) -> int:
        return self.users[person] + 5000

    async def line_paths(self, name: str) -> list[str]:
        """``{deal id}/{rule id}`` of each of the IB's lines, what its URLs name a line by."""
        async with self.world.db.session() as session:
            rows = await session.execute(
                select(CommissionLine.deal_id, CommissionLine.rule_id).where(
                    CommissionLine.beneficiary_id == self.partner(name)
                )
            )
            return [f"{deal_id}/{rule_id}" for deal_id, rule_id in sorted(rows.all())]


async def seed(db: Database, settings: Settings) -> PortalWorld:
    users = {person: await make_client(db, settings, email) for person, email in EMAILS.items()}
    world = await build_world(
        db,
        rules=[FIXED, LEVELS],
        ibs=[("A", users["A"], None, None), ("B", users["B"], "A", None), ("C", users["C"], None, None)],
        clients={users["X"]: "B", users["Y"]: "A", users["Z"]: "C"},
    )
    now = clock.utcnow()
    today = day_start(now) + timedelta(seconds=1)
    last_month = month_start(now) - timedelta(days=3)
    tickets = {"X today": 9001, "Y today": 9002, "Z today": 9003, "Y last month": 9004}
    await process_deals(
        db,
        SERVER,
        [
            deal(9001, users["X"] + 5000, lots="1", symbol="EURUSD", time=today),
            deal(9002, users["Y"] + 5000, lots="2", symbol="XAUUSD", time=today),
            deal(9003, users["Z"] + 5000, lots="1", symbol="EURUSD", time=today),
            deal(9004, users["Y"] + 5000, lots="1", symbol="EURUSD", time=last_month),
        ],
    )
    return PortalWorld(world, users, today, last_month, tickets)


@asynccontextmanager
async def signed_in_as(app: Litestar, person: str) -> AsyncIterator[AsyncTestClient]:
    """A browser of its own for ``person`` (A, B, C, X, Y, Z or N), signed in."""
    async with AsyncTestClient(app=app) as browser:
        answer = await client_sign_in(browser, EMAILS[person])
        assert answer.status_code == 303, answer.text
        yield browser

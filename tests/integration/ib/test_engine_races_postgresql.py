"""The same batch of deals delivered to several engine runs at once, on PostgreSQL: the deals are
stored once, the lines once, and the IBs are paid once. A losing run meets the winner's rows (the
deals go in by COPY) as an integrity error and is retried, and the retry finds nothing left to do.

SQLite has one writer at a time, so these races can't happen there; the module runs on the
PostgreSQL pass of the suite.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.db import Database
from ib.engine import process_deals
from ib.models import CommissionLine, StoredDeal
from ledger.models import Transfer
from tests.conftest import BACKEND
from tests.integration.ib.test_engine import three_levels
from tests.integration.ib.world import SERVER, deal

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]


async def test_one_batch_delivered_four_times_at_once_pays_once(db: Database) -> None:
    world = await three_levels(db)
    # Client 100 (C's) closes 1 + 0.5 lots, client 101 (B's) 2 lots:
    # C 1.5 x 700 = 1050; B 1.5 x 200 + 2 x 700 = 1700; A 1.5 x 100 + 2 x 200 = 550.
    batch = [deal(1, 5100, lots="1"), deal(2, 5100, lots="0.5"), deal(3, 5101, lots="2")]
    outcomes = await asyncio.gather(*(process_deals(db, SERVER, batch) for _ in range(4)))
    assert sorted(outcome.stored for outcome in outcomes) == [0, 0, 0, 3]
    assert await world.line_totals() == {"C": 1050, "B": 1700, "A": 550}
    assert await world.payables() == {"C": 1050, "B": 1700, "A": 550}
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(StoredDeal)) == 3
        assert await session.scalar(select(func.count()).select_from(CommissionLine)) == 8
        assert await session.scalar(select(func.count()).select_from(Transfer)) == 3

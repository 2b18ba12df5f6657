"""The engine's PostgreSQL-only lookups: a batch's keys as one array parameter (ib.snapshot.among)
and deal ids drawn from the table's own sequence by name (ib.deal_store).

SQLite binds ``IN`` lists and lets INSERT … RETURNING give the ids, so the module runs on the
PostgreSQL pass of the suite.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import insert, select, text

from core.db import Database
from ib.deal_store import DEAL_ID_SEQUENCE
from ib.models import TradingAccount
from ib.snapshot import among
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="array parameters and sequences are PostgreSQL's"),
    pytest.mark.postgres_only,
]


async def test_among_finds_exactly_the_asked_rows_once_the_statement_is_planned_generically(
    db: Database,
) -> None:
    """The driver prepares the statement once; from its sixth run PostgreSQL may plan it without
    looking at the array. Every run must still find exactly the accounts asked for."""
    async with db.transaction() as session:
        await session.execute(
            insert(TradingAccount),
            [
                {"server": server, "login": n, "client_id": n, "account_type": "std", "currency": "USD"}
                for server in ("live", "demo")
                for n in range(1, 2_001)
            ],
        )
    rng = random.Random(8)
    async with db.transaction() as session:
        for run in range(10):
            wanted = sorted(rng.sample(range(1, 2_500), 400 + run))  # some logins exist on no server
            found: list[int] = []
            for condition in among(session, TradingAccount.login, wanted):
                found.extend(
                    await session.scalars(
                        select(TradingAccount.login).where(TradingAccount.server == "live", condition)
                    )
                )
            assert sorted(found) == [login for login in wanted if login <= 2_000]


async def test_deal_ids_come_from_the_sequence_postgresql_gave_the_column(db: Database) -> None:
    async with db.transaction() as session:
        sequence = await session.scalar(text("SELECT pg_get_serial_sequence('ib_deal', 'id')"))
    assert sequence == f"public.{DEAL_ID_SEQUENCE}"

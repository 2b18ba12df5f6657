"""Recomputes that overlap (a redelivery while the first still runs, two schedulers for a moment)
both finish, one after the other, and leave exactly one row per client with the same figures
(real parallel transactions on PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analytics.models import ClientMetrics
from analytics.recompute import recompute_client_metrics
from core.db import Database
from core.settings import Settings
from tests.conftest import BACKEND
from tests.integration.analytics.world import Clock, build

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]


async def test_overlapping_recomputes_wait_for_each_other(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build(db, settings, tmp_path, Clock(monkeypatch))
    results = await asyncio.gather(*(recompute_client_metrics(db) for _ in range(4)))
    assert [result.clients for result in results] == [5, 5, 5, 5]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ClientMetrics)) == 5
        anna = await session.get(ClientMetrics, world.ids["anna"])
        assert anna is not None
        assert (anna.net_deposits, anna.lots_e8, anna.churn_risk, anna.value_tier) == (
            1_240_00,
            150_000_000,
            True,
            "silver",
        )

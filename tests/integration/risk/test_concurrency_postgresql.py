"""Two runs at once (the scheduled job and a redelivered one) raise each alert once between them."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.db import Database
from risk.engine import run_rules
from risk.models import RiskAlert
from tests.conftest import BACKEND
from tests.integration.risk.world import NOW, ago, risk_world

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]


async def test_parallel_runs_raise_each_alert_once(db: Database) -> None:
    world = await risk_world(db)
    for i in range(5):
        client = await world.client(f"par{i}")
        await world.deposit(client, 2_000_000, ago(hours=3))
        await world.withdrawal(client, 1_500_000, ago(hours=1), destination="bank_account")
        await world.sign_in(client, ago(hours=2), ip="203.0.113.99")

    results = await asyncio.gather(*(run_rules(db, now=NOW) for _ in range(4)))

    raised = sum(len(run.raised) for runs in results for run in runs)
    async with db.session() as session:
        alerts = await session.scalar(select(func.count(RiskAlert.id)))
        events = await session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "risk.alert_raised")
        )
    # per client: AML, large deposit, large withdrawal, method mismatch; plus one shared IP
    assert alerts == raised == events == 5 * 4 + 1

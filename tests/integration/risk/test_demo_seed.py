"""The demo shows risk alerts, raised by the rules from seeded sign-ins (and from the KYC demo
clients, who share a tax number and document images), once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cli.seed import SEEDERS, seed_demo
from cli.seed_risk import seed_risk
from core.db import Database
from core.settings import Settings
from risk import rules
from risk.models import RiskAlert

pytestmark = pytest.mark.asyncio


async def test_the_demo_seeds_a_shared_ip_and_a_shared_device_alert_once(
    db: Database, settings: Settings
) -> None:
    assert seed_risk in SEEDERS
    first = await seed_demo(db, settings)
    second = await seed_demo(db, settings)
    assert first == second
    async with db.session() as session:
        found = list(await session.scalars(select(RiskAlert.rule)))
    assert found.count(rules.SHARED_IP) == 1
    assert found.count(rules.SHARED_DEVICE) == 1
    assert f"risk alerts: {len(found)} open at /risk/alerts (compliance and admin)" in first

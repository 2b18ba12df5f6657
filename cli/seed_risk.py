"""Demo risk alerts: sign-in history that the rules find suspicious, then one run of the rules.

Three demo clients signed in from one documentation-range IP address, and two of them on one
browser (device cookie): the shared-IP and shared-device rules raise an alert each. Only sign-in
rows are written (no money moves); the rules raise the alerts as they would in production.
Idempotent: the sign-ins are written once, and alerts are unique per rule, subject and key.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select

from cli.seed_identity import DEMO_DOMAIN
from core import clock
from core.db import Database
from core.identity.models import CLIENT, LoginSession, User
from core.settings import Settings
from risk.engine import run_rules
from risk.models import AlertStatus, RiskAlert

DEMO_IP = "203.0.113.77"
"""From TEST-NET-3 (RFC 5737): an address that belongs to nobody."""
DEMO_DEVICE = hashlib.sha256(b"brokerdesk-demo-shared-browser").hexdigest()
SESSION_PREFIX = "demo-risk-"


async def seed_risk(database: Database, settings: Settings) -> list[str]:
    now = clock.utcnow()
    async with database.transaction() as session:
        seeded = await session.scalar(
            select(func.count(LoginSession.id)).where(LoginSession.id.like(f"{SESSION_PREFIX}%"))
        )
        clients = list(
            await session.scalars(
                select(User.id)
                .where(User.kind == CLIENT, User.email.like(f"%@{DEMO_DOMAIN}"))
                .order_by(User.id)
                .limit(3)
            )
        )
        if not seeded and len(clients) == 3:
            for number, client_id in enumerate(clients):
                moment = now - timedelta(hours=3 - number)
                session.add(
                    LoginSession(
                        id=f"{SESSION_PREFIX}{client_id}",
                        user_id=client_id,
                        app="portal",
                        ip=DEMO_IP,
                        user_agent="Demo browser",
                        device_hash=DEMO_DEVICE if number < 2 else None,
                        created_at=moment,
                        last_seen_at=moment,
                        revoked_at=moment + timedelta(minutes=20),
                    )
                )
    await run_rules(database, now=now)
    async with database.session() as session:
        open_alerts = await session.scalar(
            select(func.count(RiskAlert.id)).where(RiskAlert.status == AlertStatus.OPEN.value)
        )
    return [f"risk alerts: {int(open_alerts or 0)} open at /risk/alerts (compliance and admin)"]

"""Helpers for the CRM work tests: signed-in staff clients, counting rows, reading audit events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.db import Database
from core.mail.models import OutboxMail
from core.settings import Settings
from tests.helpers import make_staff, staff_sign_in


@asynccontextmanager
async def staff_client(
    settings: Settings, db: Database, email: str, roles: list[str]
) -> AsyncIterator[tuple[AsyncTestClient, int]]:
    """A back-office test client signed in as a new staff member with ``roles``, and their id."""
    from tests.apps import backoffice_app

    staff_id, secret = await make_staff(db, settings, email, roles)
    assert secret
    async with AsyncTestClient(app=backoffice_app(settings, db)) as client:
        await staff_sign_in(client, email, secret)
        yield client, staff_id


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def audit_actions(db: Database, prefix: str = "crm.") -> list[AuditEvent]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action.like(f"{prefix}%")).order_by(AuditEvent.id)
            )
        )


async def mails(db: Database, template: str) -> list[OutboxMail]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(OutboxMail).where(OutboxMail.template == template).order_by(OutboxMail.id)
            )
        )

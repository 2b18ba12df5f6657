"""Fixtures for the settings screens: signed-in staff and clients, each on a client of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from tests.apps import backoffice_app, portal_app
from tests.helpers import client_sign_in, make_client, make_staff, staff_sign_in

StaffFactory = Callable[[str, list[str]], Awaitable[AsyncTestClient]]
ClientFactory = Callable[[str], Awaitable[tuple[AsyncTestClient, int]]]


@pytest.fixture
async def staff_as(settings: Settings, db: Database) -> AsyncIterator[StaffFactory]:
    """``await staff_as("a@staff.test", ["admin"])``: a back-office client signed in with those roles."""
    opened: list[AsyncTestClient] = []

    async def make(email: str, roles: list[str]) -> AsyncTestClient:
        _id, secret = await make_staff(db, settings, email, roles)
        assert secret
        client = AsyncTestClient(app=backoffice_app(settings, db))
        await client.__aenter__()
        opened.append(client)
        await staff_sign_in(client, email, secret)
        return client

    yield make
    for client in opened:
        await client.__aexit__(None, None, None)


@pytest.fixture
async def client_as(settings: Settings, db: Database) -> AsyncIterator[ClientFactory]:
    """``await client_as("c@example.test")``: a portal client signed in, and the client's id."""
    opened: list[AsyncTestClient] = []

    async def make(email: str) -> tuple[AsyncTestClient, int]:
        client_id = await make_client(db, settings, email)
        client = AsyncTestClient(app=portal_app(settings, db))
        await client.__aenter__()
        opened.append(client)
        assert (await client_sign_in(client, email)).status_code == 303
        return client, client_id

    yield make
    for client in opened:
        await client.__aexit__(None, None, None)


async def audit_events(db: Database, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def page_text(html: str) -> str:
    import html as html_module

    return html_module.unescape(html)


async def count(db: Database, model: Any) -> int:
    from sqlalchemy import func

    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)

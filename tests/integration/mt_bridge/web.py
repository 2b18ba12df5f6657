"""Signed-in back-office clients for the dealing pages' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from tests.helpers import make_staff, staff_sign_in


@asynccontextmanager
async def signed_in_staff(
    settings: Settings, db: Database, email: str, roles: list[str]
) -> AsyncIterator[AsyncTestClient]:
    """A back-office client signed in (password and TOTP) as a new staff member with ``roles``."""
    from tests.apps import backoffice_app

    _id, secret = await make_staff(db, settings, email, roles)
    assert secret
    async with AsyncTestClient(app=backoffice_app(settings, db)) as client:
        await staff_sign_in(client, email, secret)
        yield client

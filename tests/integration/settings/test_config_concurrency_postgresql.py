"""Two editors saving the same settings screen at once: one wins, the other is told to reload,
and exactly one change is stored and audited (real parallel transactions on PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.audit.service import Actor
from core.config_store import ConfigEntry, StaleConfigError, write_setting
from core.db import Database
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]


async def save(db: Database, name: str, expected: int) -> str:
    actor = Actor(id=None, email=f"{name}@staff.test", kind="staff")
    try:
        async with db.transaction() as session:
            await write_setting(
                session, "company", {"legal_name": name}, actor, expected_version=expected, before={}
            )
            await asyncio.sleep(0.05)  # hold the row (or the new key) while the other tries
    except StaleConfigError:
        return "stale"
    return "saved"


@pytest.mark.parametrize("stored_first", [False, True])
async def test_concurrent_saves_of_one_version(db: Database, stored_first: bool) -> None:
    expected = 0
    if stored_first:
        assert await save(db, "Origin Ltd", 0) == "saved"
        expected = 1
    outcomes = await asyncio.gather(*(save(db, f"Editor {n} Ltd", expected) for n in range(4)))
    assert sorted(outcomes) == ["saved", "stale", "stale", "stale"]
    async with db.session() as session:
        row = await session.get(ConfigEntry, "company")
        events = list(await session.scalars(select(AuditEvent).where(AuditEvent.target_id == "company")))
    assert row is not None
    assert row.version == expected + 1
    assert len(events) == expected + 1
    assert events[-1].after == {"version": expected + 1, "legal_name": row.value["legal_name"]}

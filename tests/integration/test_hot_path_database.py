"""The database paths every page takes: the one-round-trip checkout ping and the autocommit
session (no BEGIN/COMMIT on PostgreSQL; a transaction on SQLite)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.db import engine as engine_module
from core.identity.models import User
from core.settings import Settings
from tests.conftest import BACKEND
from tests.helpers import make_client

pytestmark = pytest.mark.asyncio

ON_POSTGRESQL = pytest.mark.skipif(BACKEND != "postgresql", reason="needs a server with a connection pool")


async def _terminate_other_connections(database_url: str) -> int:
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(
            await admin.fetchval(
                "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()) AS terminated"
            )
        )
    finally:
        await admin.close()


@ON_POSTGRESQL
async def test_an_idle_pooled_connection_the_server_dropped_is_replaced_at_checkout(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 0.0)  # every connection counts as idle
    pooled = Database.from_url(database_url, pool_size=2)
    try:
        async with pooled.session() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        assert pooled.engine.pool.checkedin() == 1  # type: ignore[attr-defined]
        assert await _terminate_other_connections(database_url) >= 1

        async with pooled.session() as session:  # the ping finds the dead one and opens another
            assert await session.scalar(text("SELECT 2")) == 2
        async with pooled.autocommit_session() as session:
            assert await session.scalar(text("SELECT 3")) == 3
    finally:
        await pooled.dispose()


@ON_POSTGRESQL
async def test_a_connection_used_a_moment_ago_goes_out_unpinged_and_the_first_read_retries(
    database_url: str,
) -> None:
    pooled = Database.from_url(database_url, pool_size=2)
    try:
        async with pooled.session() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        assert await _terminate_other_connections(database_url) >= 1

        async def who(session: AsyncSession) -> int | None:
            return await session.scalar(text("SELECT 2"))

        assert await pooled.autocommit_read(who) == 2  # the dead connection, then a fresh one

        async with pooled.session() as session:
            assert await session.scalar(text("SELECT 3")) == 3
        assert await _terminate_other_connections(database_url) >= 1
        with pytest.raises(DBAPIError) as failed:  # any other first statement fails once ...
            async with pooled.session() as session:
                await session.scalar(text("SELECT 4"))
        assert failed.value.connection_invalidated
        async with pooled.session() as session:  # ... and the pool has replaced the rest
            assert await session.scalar(text("SELECT 5")) == 5
    finally:
        await pooled.dispose()


@ON_POSTGRESQL
async def test_autocommit_session_runs_each_statement_in_its_own_transaction(db: Database) -> None:
    async with db.autocommit_session() as session:
        first = await session.scalar(text("SELECT txid_current()"))
        second = await session.scalar(text("SELECT txid_current()"))
    assert first != second  # no BEGIN: each statement committed on its own
    async with db.transaction() as session:
        first = await session.scalar(text("SELECT txid_current()"))
        second = await session.scalar(text("SELECT txid_current()"))
    assert first == second


async def test_autocommit_session_writes_what_is_left_in_it_and_drops_it_on_error(
    db: Database, settings: Settings
) -> None:
    user_id = await make_client(db, settings, "hot-path@example.test")
    async with db.autocommit_session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.display_name = "Changed in autocommit"
    async with db.session() as session:
        assert (
            await session.scalar(select(User.display_name).where(User.id == user_id))
            == "Changed in autocommit"
        )

    async def fail_after_a_change() -> None:
        async with db.autocommit_session() as session:
            user = await session.get(User, user_id)
            assert user is not None
            user.display_name = "Never written"
            raise RuntimeError("the block failed before its changes were flushed")

    with pytest.raises(RuntimeError):
        await fail_after_a_change()
    async with db.session() as session:
        assert (
            await session.scalar(select(User.display_name).where(User.id == user_id))
            == "Changed in autocommit"
        )


async def test_read_session_never_writes_what_a_reader_changed(db: Database, settings: Settings) -> None:
    user_id = await make_client(db, settings, "reader-only@example.test")
    async with db.read_session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.display_name = "Changed by a reader"
        found = await session.scalar(select(User.id).where(User.id == user_id))  # no autoflush before it
        assert found == user_id
    async with db.session() as session:
        name = await session.scalar(select(User.display_name).where(User.id == user_id))
    assert name != "Changed by a reader"

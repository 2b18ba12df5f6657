"""The migrations build exactly the schema the models describe, and go down and up again."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from core.db import Database, metadata, migrate
from core.identity.permissions import ALL_PERMISSIONS, SEEDED_ROLES
from migrations.models import import_all_models
from tests import databases


def _differences(connection) -> list:  # type: ignore[no-untyped-def]
    import_all_models()
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


async def test_migrated_schema_matches_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def _table_names(url: str) -> list[str]:
    database = Database.from_url(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await database.dispose()


def test_downgrade_then_upgrade(test_databases: databases.TestDatabases) -> None:
    url = test_databases.create_empty()
    try:
        migrate.upgrade(url)
        assert {"users", "audit_events", "mail_outbox"} <= set(asyncio.run(_table_names(url)))
        migrate.downgrade(url, "0001")
        remaining = set(asyncio.run(_table_names(url)))
        assert not remaining & {"users", "audit_events", "mail_outbox", "roles", "login_sessions"}
        migrate.upgrade(url)
        assert "users" in asyncio.run(_table_names(url))
    finally:
        test_databases.drop(url)


async def test_audit_log_refuses_update_and_delete(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO audit_events (occurred_at, actor_email, actor_kind, action, target_type,"
                " target_id, ip, user_agent) VALUES (CURRENT_TIMESTAMP, 'a@x.test', 'staff', 'x.y', '', '',"
                " '', '')"
            )
        )
    for statement in ("UPDATE audit_events SET action = 'changed'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(text(statement))
    async with db.session() as session:
        assert (await session.execute(text("SELECT action FROM audit_events"))).scalars().all() == ["x.y"]


async def test_seeded_roles_and_permissions(db: Database) -> None:
    async with db.session() as session:
        rows = (
            await session.execute(
                text("SELECT r.name, p.permission FROM roles r JOIN role_permissions p ON p.role_id = r.id")
            )
        ).all()
    granted: dict[str, set[str]] = {}
    for name, permission in rows:
        granted.setdefault(name, set()).add(permission)
    assert granted == {name: set(perms) for name, (_d, perms) in SEEDED_ROLES.items()}
    assert granted["admin"] == set(ALL_PERMISSIONS)

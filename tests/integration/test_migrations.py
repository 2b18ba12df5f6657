"""Migrations: the full chain upgrades and downgrades, and matches the models exactly."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.db import Database, metadata, migrate
from migrations.models import import_all_models
from tests.databases import TestDatabases


async def _table_names(url: str) -> set[str]:
    database = Database.from_url(url)
    try:
        async with database.engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await database.dispose()


async def _schema_diff(url: str) -> list[object]:
    import_all_models()
    database = Database.from_url(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await database.dispose()


def test_upgrade_downgrade_upgrade(test_databases: TestDatabases) -> None:
    url = test_databases.create_empty()
    try:
        migrate.upgrade(url)
        upgraded = asyncio.run(_table_names(url))
        assert "alembic_version" in upgraded
        assert set(metadata.tables) <= upgraded

        migrate.downgrade(url, "base")
        assert asyncio.run(_table_names(url)) - {"alembic_version"} == set()

        migrate.upgrade(url)
        assert asyncio.run(_table_names(url)) == upgraded
    finally:
        test_databases.drop(url)


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert asyncio.run(_schema_diff(database_url)) == []


def test_migration_files_are_named_by_date_and_slug() -> None:
    import re

    versions = migrate.migrations_dir() / "versions"
    names = [path.name for path in versions.glob("*.py")]
    assert names
    assert all(re.fullmatch(r"\d{4}_\d{2}_\d{2}_[0-9a-z]+_[a-z0-9_]+\.py", name) for name in names)

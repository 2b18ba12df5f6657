"""The ledger migration: upgrades and downgrades on both backends and matches the models exactly."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.db import Database, metadata, migrate
from migrations.models import import_all_models
from tests.databases import TestDatabases as Databases

LEDGER_TABLES = {"currencies", "accounts", "transfers", "entries", "fx_rates"}


def _schema_differences(connection: Connection) -> list[Any]:
    import_all_models()
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


async def test_schema_matches_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_schema_differences)
    assert differences == []


async def test_currencies_are_seeded_with_their_scale(db: Database) -> None:
    async with db.engine.connect() as connection:
        rows = dict((await connection.execute(text("SELECT code, scale FROM currencies"))).all())
    assert rows["USD"] == 2
    assert rows["JPY"] == 0
    assert rows["USDT"] == 6
    assert rows["EUR"] == 2
    assert rows["GBP"] == 2


def _table_names(connection: Connection) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(connection).get_table_names())


async def _ledger_tables_present(url: str) -> set[str]:
    database = Database.from_url(url)
    try:
        async with database.engine.connect() as connection:
            return LEDGER_TABLES & await connection.run_sync(_table_names)
    finally:
        await database.dispose()


def test_upgrade_downgrade_upgrade(test_databases: Databases) -> None:
    """Runs synchronously: Alembic and the database factory drive their own event loops."""
    url = test_databases.create_empty()
    try:
        for _ in range(2):
            migrate.upgrade(url)
            assert asyncio.run(_ledger_tables_present(url)) == LEDGER_TABLES
            migrate.downgrade(url, "0001")
            assert asyncio.run(_ledger_tables_present(url)) == set()
        migrate.upgrade(url)
        assert asyncio.run(_ledger_tables_present(url)) == LEDGER_TABLES
    finally:
        test_databases.drop(url)

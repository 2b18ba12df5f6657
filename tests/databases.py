"""Fresh, migrated databases for tests, cheaply.

The schema is migrated once per run. On SQLite each test gets a copy of the migrated file. On
PostgreSQL a new database per test would cost about a second (``DROP DATABASE`` forces a
checkpoint), so the tests share one migrated database that is reset between tests: every table is
emptied and the rows the migrations seeded (currencies, roles, …) are put back. Either way tests
commit for real (after-commit hooks, concurrency and triggers behave as in production) and never
see each other's rows.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from core.db import migrate

PREFIX = "bd_test_"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _drop_leftovers(admin_url: str) -> None:
    """Drop databases left by earlier runs whose process is gone (a killed run leaves them)."""
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", PREFIX + "%")
        for row in rows:
            parts = row["datname"].split("_")
            pid = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
            if pid and not _process_alive(pid):
                await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()


async def _user_tables(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
    )
    return [row["tablename"] for row in rows]


async def _snapshot(url: str) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """The rows the migrations seeded, per table, to put back after each reset."""
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        seeded: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
        for table in await _user_tables(connection):
            rows = await connection.fetch(f'SELECT * FROM "{table}"')
            if rows:
                seeded[table] = (list(rows[0].keys()), [tuple(row.values()) for row in rows])
        return seeded
    finally:
        await connection.close()


async def _reset(url: str, seeded: dict[str, tuple[list[str], list[tuple[object, ...]]]]) -> None:
    """Empty every table and restore the seeded rows; triggers and FKs are bypassed while doing so."""
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        tables = await _user_tables(connection)
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute("SET LOCAL lock_timeout = '10s'")
            # DELETE, not TRUNCATE: for a test's few rows it is ~30x faster (TRUNCATE swaps files).
            # One simple-protocol message for them all: a round trip per table was most of a reset.
            await connection.execute("".join(f'DELETE FROM "{table}";' for table in tables))
            for table, (columns, records) in seeded.items():
                await connection.copy_records_to_table(table, records=records, columns=columns)
    finally:
        await connection.close()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class TestDatabases:
    """Makes one migrated database per test from a template migrated once per run."""

    __test__ = False  # a helper, not a test class

    backend: str
    admin_url: str = ""
    workdir: Path = field(default_factory=Path.cwd)
    run_id: str = field(default_factory=lambda: f"{os.getpid()}_{uuid.uuid4().hex[:6]}")
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _template: str = ""
    _shared: str = ""
    _seeded_rows: dict[str, tuple[list[str], list[tuple[object, ...]]]] = field(default_factory=dict)

    def url_for(self, name: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.workdir / (name + '.db')}"
        base = make_url(_sqlalchemy_url(self.admin_url))
        return base.set(database=name).render_as_string(hide_password=False)

    def prepare(self) -> None:
        self._template = f"{PREFIX}{self.run_id}_tmpl"
        if self.backend == "postgresql":
            asyncio.run(_drop_leftovers(self.admin_url))
            asyncio.run(_admin(self.admin_url, f'CREATE DATABASE "{self._template}"'))
        migrate.upgrade(self.url_for(self._template))

    def create(self) -> str:
        """A migrated database with only the seeded rows in it."""
        if self.backend == "sqlite":
            name = f"{PREFIX}{self.run_id}_{next(self._counter)}"
            shutil.copyfile(self.workdir / f"{self._template}.db", self.workdir / f"{name}.db")
            return self.url_for(name)
        if not self._shared:
            self._shared = f"{PREFIX}{self.run_id}_shared"
            asyncio.run(
                _admin(self.admin_url, f'CREATE DATABASE "{self._shared}" TEMPLATE "{self._template}"')
            )
            self._seeded_rows = asyncio.run(_snapshot(self.url_for(self._shared)))
        else:
            asyncio.run(_reset(self.url_for(self._shared), self._seeded_rows))
        return self.url_for(self._shared)

    def create_empty(self) -> str:
        """An unmigrated database, for the migration tests."""
        name = f"{PREFIX}{self.run_id}_empty_{next(self._counter)}"
        if self.backend == "postgresql":
            asyncio.run(_admin(self.admin_url, f'CREATE DATABASE "{name}"'))
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database or ""
        if name == self._shared:
            return  # reset by the next create()
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(name + suffix).unlink(missing_ok=True)
        else:
            asyncio.run(_admin(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def finish(self) -> None:
        if self.backend == "postgresql":
            for name in (self._shared, self._template):
                if name:
                    asyncio.run(_admin(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

"""Fresh, migrated databases for tests, cheaply.

The schema is migrated once per run into a template; each test then gets its own copy:
on PostgreSQL ``CREATE DATABASE … TEMPLATE``, on SQLite a file copy. Tests therefore commit for
real (after-commit hooks, concurrency and triggers behave as in production) and never see each
other's rows.
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

    backend: str
    admin_url: str = ""
    workdir: Path = field(default_factory=Path.cwd)
    run_id: str = field(default_factory=lambda: f"{os.getpid()}_{uuid.uuid4().hex[:6]}")
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _template: str = ""

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
        name = f"{PREFIX}{self.run_id}_{next(self._counter)}"
        if self.backend == "sqlite":
            shutil.copyfile(self.workdir / f"{self._template}.db", self.workdir / f"{name}.db")
        else:
            asyncio.run(_admin(self.admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        return self.url_for(name)

    def create_empty(self) -> str:
        """An unmigrated database, for the migration tests."""
        name = f"{PREFIX}{self.run_id}_empty_{next(self._counter)}"
        if self.backend == "postgresql":
            asyncio.run(_admin(self.admin_url, f'CREATE DATABASE "{name}"'))
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database or ""
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(name + suffix).unlink(missing_ok=True)
        else:
            asyncio.run(_admin(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def finish(self) -> None:
        if self.backend == "postgresql":
            asyncio.run(_admin(self.admin_url, f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)'))

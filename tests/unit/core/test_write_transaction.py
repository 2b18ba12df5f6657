"""``Database.write_transaction`` takes SQLite's write lock at BEGIN, commits, and rolls back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import Database


async def test_sqlite_write_lock_is_held_from_the_first_read(tmp_path: Path) -> None:
    path = tmp_path / "write.db"
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
        async with db.write_transaction() as session:
            await session.execute(text("SELECT 1"))  # only a read so far
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # another writer must wait its turn
            other.close()
            await session.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(RuntimeError):
            await _insert_then_fail(db)
        async with db.session() as session:
            assert (await session.execute(text("SELECT x FROM t"))).scalars().all() == [1]
    finally:
        await db.dispose()


async def _insert_then_fail(db: Database) -> None:
    async with db.write_transaction() as session:
        await session.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("the block fails")

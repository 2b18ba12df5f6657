"""Engine construction for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_BEGIN_OPTION = "sqlite_begin"
"""Execution option naming how a SQLite transaction begins: ``DEFERRED`` (default) or ``IMMEDIATE``.

A writer that reads before it writes (the ledger locks accounts, then writes) asks for ``IMMEDIATE``
so it takes SQLite's single write lock at ``BEGIN`` instead of failing to upgrade mid-transaction.
"""
SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the single writer; foreign keys are off by default in SQLite."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLAlchemy's documented recipe for pysqlite/aiosqlite: stop the driver from emitting its own
    # (late, DEFERRED) BEGIN, and emit BEGIN ourselves in the "begin" event below.
    dbapi_connection.isolation_level = None


def _begin_sqlite(connection: Connection) -> None:
    """Start every SQLite transaction explicitly, in the mode the connection asked for."""
    mode = str(connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")).upper()
    if mode not in SQLITE_BEGIN_MODES:
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """Create the process's async engine for ``url``.

    ``pre_ping`` tests each pooled PostgreSQL connection as it is checked out, so a request never
    meets a connection the server dropped. On asyncpg that costs three round trips (BEGIN, a ping,
    ROLLBACK) per checkout; callers that retry a lost connection themselves turn it off.

    Bound parameters (password hashes, TOTP secrets) are never shown: not in the SQL echo, not in
    the text of a database error that reaches a log.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, poolclass=NullPool, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        hide_parameters=True,
    )


@asynccontextmanager
async def begin_write(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction that will write; on SQLite it begins with ``BEGIN IMMEDIATE``.

    A deferred SQLite transaction reads first and takes the write lock only at its first write; if
    another writer committed in between, SQLite refuses the upgrade at once ("database is locked")
    instead of waiting out the busy timeout. Taking the lock at ``BEGIN`` makes writers queue.
    """
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            await connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        async with connection.begin():
            yield connection

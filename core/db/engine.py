"""Engine construction for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, PoolProxiedConnection
from sqlalchemy.util import await_

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


PING_IDLE_SECONDS = 1.0
"""A connection back in the pool for less than this is handed out without a ping."""
RETURNED_AT = "brokerdesk.returned_at"


def _note_return(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    if dbapi_connection is not None:
        record.info[RETURNED_AT] = time.monotonic()


def _ping_on_checkout(
    dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """Test a PostgreSQL connection as the pool hands it out, in one round trip (an empty query).

    SQLAlchemy's own ``pool_pre_ping`` on asyncpg wraps its ping in a transaction (for pgbouncer's
    transaction mode, which we do not use): BEGIN, the ping, ROLLBACK, three round trips on every
    checkout, which was a third of a portal page's database time. A connection that can't answer
    is reported as disconnected, so the pool discards it and checks out (or opens) another one:
    the same story as ``pool_pre_ping`` for a server restart or a dropped connection.

    A connection that came back less than :data:`PING_IDLE_SECONDS` ago answered a moment ago and
    is not pinged (under load, none is). If the server went away within that second, its first
    statement fails as any statement in flight then does; SQLAlchemy sees the disconnect and
    replaces every older pooled connection at its next checkout, and the reads that every page
    makes first (:meth:`core.db.Database.autocommit_read`) run once more on a fresh one.
    """
    returned_at = record.info.get(RETURNED_AT)
    if returned_at is not None and time.monotonic() - returned_at < PING_IDLE_SECONDS:
        return
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as error:
        raise exc.DisconnectionError(f"pooled connection failed its ping: {type(error).__name__}") from error


def create_engine(url: str, *, echo: bool = False, pool_size: int = 20, pre_ping: bool = True) -> AsyncEngine:
    """Create the process's async engine for ``url``.

    ``pre_ping`` tests each pooled PostgreSQL connection as it is checked out (one round trip, see
    :func:`_ping_on_checkout`), so a request never meets a connection the server dropped; callers
    that retry a lost connection themselves turn it off.

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
    # No overflow: a connection opened beyond the pool's size is closed again when it comes back,
    # so under a load that keeps more requests busy than the pool holds, every few requests paid
    # for a new server process and its TLS handshake (at 50 concurrent users the portal's
    # dashboard served 899 requests/s without overflow against 696 with it). A request that
    # finds every connection busy waits for the next one instead.
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=0, hide_parameters=True)
    if pre_ping:
        event.listen(engine.sync_engine.pool, "checkin", _note_return)
        event.listen(engine.sync_engine.pool, "checkout", _ping_on_checkout)
    return engine


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

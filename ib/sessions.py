"""Transactions that write IB data and post to the ledger together.

The ledger locks the accounts it touches; on SQLite that needs the write lock from ``BEGIN``
(``BEGIN IMMEDIATE``), or a read-then-write transaction fails to upgrade under contention. An ORM
session (rather than a bare connection) is used so that jobs enqueued with
:func:`core.jobs.enqueue_after_commit` leave only once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import Database
from core.db.engine import SQLITE_BEGIN_OPTION


@asynccontextmanager
async def posting_session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session in one transaction that commits on success; fit for :func:`ledger.posting.post_batch`."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with factory() as session, session.begin():
        yield session

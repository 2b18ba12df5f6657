"""One object that owns the engine and hands out sessions.

Apps, workers and tests build one :class:`Database` and pass it down; nothing reaches for a
global engine, so a test can point the real app at its own fresh database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core import jobs as _jobs  # noqa: F401 - registers the after-commit hooks
from core.db.engine import SQLITE_BEGIN_OPTION, begin_write, create_engine

T = TypeVar("T")


class Database:
    """The engine of one process plus its session factory."""

    def __init__(self, engine: AsyncEngine, *, unpinged_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.unpinged_engine = unpinged_engine or engine
        """The same database through a pool that does not test connections at checkout, for short
        hot paths that retry a lost connection themselves (the ledger's :func:`ledger.posting.post`,
        whose idempotency keys make a retry safe). Its connections open only when first used."""
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        on_postgresql = engine.dialect.name == "postgresql"
        self._autocommit_sessionmaker = (
            async_sessionmaker(autocommit, expire_on_commit=False) if on_postgresql else self.sessionmaker
        )
        self._read_sessionmaker = (
            async_sessionmaker(autocommit, expire_on_commit=False, autoflush=False)
            if on_postgresql
            else self.sessionmaker
        )

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False, pool_size: int = 20) -> Database:
        engine = create_engine(url, echo=echo, pool_size=pool_size)
        if engine.dialect.name == "sqlite":  # no pool to ping: one engine serves both
            return cls(engine)
        return cls(engine, unpinged_engine=create_engine(url, echo=echo, pool_size=pool_size, pre_ping=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller opens its own transaction with ``session.begin()``."""
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction that commits on success and rolls back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit_session(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits on its own, for the hot paths of a page that
        read a row or two and rarely write one (the signed-in user's session row, the home page's
        announcements).

        On PostgreSQL it skips the BEGIN and the COMMIT or ROLLBACK around the statements (two of
        the three round trips of a one-query transaction). Under PostgreSQL's READ COMMITTED (our
        isolation level) each statement of a transaction takes its own snapshot anyway, so reads
        see what they would have seen in one; what is lost is all-or-nothing writing, so use it
        for at most one write. Changes left in the session are flushed when the block ends
        without an error. SQLite, in-process, has no round trips to save: there it is a
        transaction that commits at the end.
        """
        async with self._autocommit_sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def autocommit_read(self, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``await read(session)`` in an :meth:`autocommit_session`, once more on a fresh
        connection when the first one turned out to be dead (the server restarted or dropped it
        within the second in which the pool hands connections out unpinged). For the first read
        of every page (who is signed in); ``read`` must be safe to run twice.
        """
        try:
            async with self.autocommit_session() as session:
                return await read(session)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self.autocommit_session() as session:
            return await read(session)

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for a page's reads: on PostgreSQL in autocommit (see
        :meth:`autocommit_session`: no BEGIN or ROLLBACK round trips, the same view of the data
        under READ COMMITTED) with autoflush off, and never committed, so nothing a reader changes
        on a loaded object is ever written. On SQLite a session whose transaction is rolled back.
        """
        async with self._read_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncSession]:
        """Like :meth:`transaction`, for a block that reads and then writes.

        On SQLite its ``BEGIN`` takes the write lock (``IMMEDIATE``), so other writers wait their
        turn (the busy timeout) instead of the block's first write failing at once with "database
        is locked" because another writer committed after the block's first read (sign-in reads
        the user, spends a while on argon2, then writes). PostgreSQL begins as usual.
        """
        async with self.sessionmaker() as session:
            await session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in one transaction that writes (see :func:`core.db.engine.begin_write`)."""
        async with begin_write(self.engine) as connection:
            yield connection

    async def ping(self) -> None:
        """Raise if the database can't answer a trivial query."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.unpinged_engine is not self.engine:
            await self.unpinged_engine.dispose()

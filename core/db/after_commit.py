"""Work that must wait until a session's transaction has committed, and is dropped if it rolls back.

Jobs (:func:`core.jobs.enqueue_after_commit`) leave this way, and in-process memory of what the
database now holds (a line basis known to be stored, say), which remembered any earlier would
outlive a rollback.

SQLAlchemy reports releasing a savepoint as a commit, and rolling one back as a rollback, while
the transaction around it goes on. So a callback runs only when the outermost transaction commits,
and is dropped when the savepoint it was registered in (or one around it) rolls back, or when
the whole transaction does; callbacks registered outside a savepoint that rolls back stay.

A session bound to a connection whose owner commits it (the cashier's money transactions, the
support mail server's deliveries) never commits itself: :func:`session_on` makes its calls once
that connection has committed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger(__name__)

CALLBACKS_KEY = "core.db.after_commit"

Pending = list[tuple[SessionTransaction | None, Callable[[], None]]]
"""(the savepoint or transaction a callback was registered in, the callback)."""


def call_after_commit(session: AsyncSession | Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``session``'s outermost transaction has committed; never, if the
    transaction, or the savepoint the call was made in, rolls back."""
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    within = sync_session.get_nested_transaction() or sync_session.get_transaction()
    sync_session.info.setdefault(CALLBACKS_KEY, []).append((within, callback))


@asynccontextmanager
async def session_on(
    transaction: AbstractAsyncContextManager[AsyncConnection],
) -> AsyncIterator[AsyncSession]:
    """An ORM session on the connection of ``transaction`` (which commits when it ends without an
    error), flushed at the end. The session itself never commits, so its after-commit calls are
    made here, once ``transaction`` has committed."""
    calls: list[Callable[[], None]] = []
    async with transaction as connection:
        session = AsyncSession(bind=connection, expire_on_commit=False)
        try:
            yield session
            await session.flush()
            pending: Pending = session.sync_session.info.pop(CALLBACKS_KEY, [])
            calls = [callback for _within, callback in pending]
        finally:
            await session.close()
    for call in calls:
        call()


@event.listens_for(Session, "after_commit")
def _call_callbacks(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: the transaction around it has yet to commit
    pending: Pending = session.info.pop(CALLBACKS_KEY, [])
    for _within, callback in pending:
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _drop_callbacks(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: Pending = session.info.get(CALLBACKS_KEY, [])
    if not pending:
        return
    if not previous_transaction.nested:
        session.info.pop(CALLBACKS_KEY, None)
        logger.info("transaction rolled back; %d after-commit call(s) dropped", len(pending))
        return
    kept = [entry for entry in pending if not _inside(entry[0], previous_transaction)]
    session.info[CALLBACKS_KEY] = kept
    if len(kept) < len(pending):
        logger.info("savepoint rolled back; %d after-commit call(s) dropped", len(pending) - len(kept))


def _inside(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False

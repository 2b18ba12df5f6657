"""Work that must wait until a session's transaction has committed, and is dropped if it rolls back.

For in-process memory of what the database now holds (an id known to be stored, say): remembering it
before the commit would outlive a rollback. Jobs have their own queue of this kind
(:func:`core.jobs.enqueue_after_commit`), since they are sent rather than called.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

CALLBACKS_KEY = "core.db.after_commit"


def call_after_commit(session: AsyncSession | Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``session``'s transaction has committed; never, if it rolls back."""
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    sync_session.info.setdefault(CALLBACKS_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _call_callbacks(session: Session) -> None:
    callbacks: list[Callable[[], None]] = session.info.pop(CALLBACKS_KEY, [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session: Session) -> None:
    session.info.pop(CALLBACKS_KEY, None)

"""Dead letters: jobs that exhausted their retries, kept for staff to retry or discard.

The workers' middleware (:mod:`workers.dead_letters`) records a message here once Dramatiq gives
up on it, on the Redis broker and on the in-process one alike. A retry re-sends the job by actor
name through :mod:`core.jobs` after the transaction that marks it commits; a discard only marks it.
Both are audited. Rows are never deleted, so what happened to a job stays readable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.audit.service import Actor, record_audit
from core.db import Base, Database
from core.errors import CoreError
from core.jobs import enqueue_after_commit

ERROR_LIMIT = 2000
LIST_LIMIT = 500


class DeadLetterStatus(enum.StrEnum):
    DEAD = "dead"
    """Waiting for staff: retry it or discard it."""
    RETRIED = "retried"
    DISCARDED = "discarded"


class DeadLetterError(CoreError):
    """Raised when a dead letter is unknown or already handled."""


class DeadLetter(Base):
    """One job that failed for good: its actor, its arguments, the last error and when."""

    __tablename__ = "core_dead_letter"
    __table_args__ = (Index("ix_core_dead_letter_status_failed_at", "status", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))
    queue_name: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(128))
    args: Mapped[list[Any]] = mapped_column(JSON)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON)
    retries: Mapped[int] = mapped_column(default=0)
    """How many times it was retried after its first attempt (the last time it failed)."""
    occurrences: Mapped[int] = mapped_column(default=1)
    """How many times this same job (actor and arguments) failed for good while it waited here: a
    periodic job that keeps failing (a sync of a server that is down) is one row, not thousands."""
    first_failed_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    error: Mapped[str] = mapped_column(String(ERROR_LIMIT))
    failed_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    """When it last failed for good."""
    status: Mapped[str] = mapped_column(String(16), default=DeadLetterStatus.DEAD)
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    resolved_at: Mapped[datetime | None]


@dataclass(frozen=True)
class FailedMessage:
    """What the worker knows of a message it gave up on."""

    message_id: str
    queue_name: str
    actor_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    retries: int
    error: str


async def record_dead_letter(db: Database, failed: FailedMessage) -> int:
    """Store one failed message (its own short transaction); returns the row's id. The same job
    (actor and arguments) already waiting for staff is counted again rather than stored twice."""
    now = clock.utcnow()
    async with db.transaction() as session:
        waiting = await session.scalars(
            select(DeadLetter).where(
                DeadLetter.actor_name == failed.actor_name[:128], DeadLetter.status == DeadLetterStatus.DEAD
            )
        )
        same = next(
            (row for row in waiting if row.args == list(failed.args) and row.kwargs == dict(failed.kwargs)),
            None,
        )
        if same is not None:
            same.occurrences += 1
            same.message_id = failed.message_id[:64]
            same.retries = failed.retries
            same.error = failed.error[:ERROR_LIMIT]
            same.failed_at = now
            return same.id
        row = DeadLetter(
            message_id=failed.message_id[:64],
            queue_name=failed.queue_name[:128],
            actor_name=failed.actor_name[:128],
            args=list(failed.args),
            kwargs=dict(failed.kwargs),
            retries=failed.retries,
            occurrences=1,
            error=failed.error[:ERROR_LIMIT],
            first_failed_at=now,
            failed_at=now,
            status=DeadLetterStatus.DEAD,
        )
        session.add(row)
        await session.flush()
        return row.id


async def dead_letters(
    session: AsyncSession, status: str = DeadLetterStatus.DEAD, limit: int = LIST_LIMIT
) -> list[DeadLetter]:
    """Dead letters in ``status``, newest first."""
    return list(
        await session.scalars(
            select(DeadLetter)
            .where(DeadLetter.status == status)
            .order_by(DeadLetter.failed_at.desc(), DeadLetter.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class WaitingSummary:
    count: int
    oldest: datetime | None


async def waiting_summary(session: AsyncSession) -> WaitingSummary:
    """How many dead letters wait for staff, and when the oldest failed."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(DeadLetter.failed_at)).where(
                DeadLetter.status == DeadLetterStatus.DEAD
            )
        )
    ).one()
    return WaitingSummary(int(count), clock.as_utc(oldest) if oldest is not None else None)


def _snapshot(row: DeadLetter) -> dict[str, Any]:
    return {"status": row.status, "actor_name": row.actor_name, "args": row.args, "kwargs": row.kwargs}


async def _waiting(session: AsyncSession, dead_letter_id: int) -> DeadLetter:
    row = await session.get(DeadLetter, dead_letter_id, with_for_update=True)
    if row is None:
        raise DeadLetterError(f"Dead-letter job {dead_letter_id} does not exist.")
    if row.status != DeadLetterStatus.DEAD:
        raise DeadLetterError(f"Dead-letter job {dead_letter_id} was already {row.status}.")
    return row


async def _resolve(db: Database, dead_letter_id: int, actor: Actor, status: DeadLetterStatus) -> DeadLetter:
    async with db.transaction() as session:
        row = await _waiting(session, dead_letter_id)
        before = _snapshot(row)
        row.status = status
        row.resolved_by = actor.email
        row.resolved_at = clock.utcnow()
        if status == DeadLetterStatus.RETRIED:
            enqueue_after_commit(session, row.actor_name, *row.args, **row.kwargs)
        await record_audit(
            session,
            actor,
            f"jobs.dead_letter_{status}",
            target_type="dead_letter",
            target_id=row.id,
            before=before,
            after=_snapshot(row),
        )
        return row


async def retry_dead_letter(db: Database, dead_letter_id: int, actor: Actor) -> DeadLetter:
    """Send the job again by actor name, once the row is marked retried (after commit)."""
    return await _resolve(db, dead_letter_id, actor, DeadLetterStatus.RETRIED)


async def discard_dead_letter(db: Database, dead_letter_id: int, actor: Actor) -> DeadLetter:
    """Mark the job as given up on; nothing is sent."""
    return await _resolve(db, dead_letter_id, actor, DeadLetterStatus.DISCARDED)

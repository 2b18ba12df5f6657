"""core.db.after_commit over a real database: calls wait for the outermost commit, and savepoints
(which SQLAlchemy reports as commits and rollbacks of their own) neither run them early nor drop
the calls made outside them."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.transactions import money_transaction
from core import jobs
from core.db import Database
from core.db.after_commit import call_after_commit


async def test_a_call_waits_for_the_outermost_commit_not_a_released_savepoint(db: Database) -> None:
    called: list[str] = []
    async with db.transaction() as session:
        async with session.begin_nested():
            await session.execute(text("SELECT 1"))
            call_after_commit(session, lambda: called.append("in savepoint"))
        assert called == []  # the savepoint is released, the transaction goes on
        call_after_commit(session, lambda: called.append("after it"))
        assert called == []
    assert called == ["in savepoint", "after it"]


async def test_a_rolled_back_savepoint_drops_only_the_calls_made_inside_it(db: Database) -> None:
    called: list[str] = []
    async with db.transaction() as session:
        call_after_commit(session, lambda: called.append("before"))
        with pytest.raises(LookupError):
            await _fail_in_a_savepoint(session, called)
        call_after_commit(session, lambda: called.append("after"))
    assert called == ["before", "after"]


async def test_a_rolled_back_transaction_drops_every_call_even_from_a_released_savepoint(
    db: Database,
) -> None:
    called: list[str] = []
    with pytest.raises(LookupError):
        await _release_a_savepoint_then_fail(db, called=called)
    assert called == []


async def test_a_job_enqueued_in_a_released_savepoint_is_not_sent_when_the_transaction_fails(
    db: Database, sent_jobs: list[jobs.Job]
) -> None:
    with pytest.raises(LookupError):
        await _release_a_savepoint_then_fail(db, enqueue=True)
    assert sent_jobs == []


async def _release_a_savepoint_then_fail(
    db: Database, *, called: list[str] | None = None, enqueue: bool = False
) -> None:
    """A transaction that releases a savepoint holding a call (or a job), then fails."""
    async with db.transaction() as session:
        async with session.begin_nested():
            await session.execute(text("SELECT 1"))
            if called is not None:
                call_after_commit(session, lambda: called.append("in savepoint"))
            if enqueue:
                jobs.enqueue_after_commit(session, "tests.never_sent", 1)
        raise LookupError("the transaction fails after the savepoint")


async def _fail_in_a_savepoint(session: AsyncSession, called: list[str]) -> None:
    async with session.begin_nested():
        call_after_commit(session, lambda: called.append("inside"))
        raise LookupError("the savepoint's work fails")


async def test_a_job_enqueued_in_a_money_transaction_leaves_once_it_commits(
    db: Database, sent_jobs: list[jobs.Job]
) -> None:
    """The cashier's money transactions bind a session to the posting connection, which commits
    the connection, not the session: the jobs wait for that commit all the same."""
    async with money_transaction(db) as session:
        jobs.enqueue_after_commit(session, "tests.sent_after_commit", 7)
        assert sent_jobs == []
    assert [(job.actor_name, job.args) for job in sent_jobs] == [("tests.sent_after_commit", (7,))]
    with pytest.raises(LookupError):
        await _enqueue_in_a_failing_money_transaction(db)
    assert len(sent_jobs) == 1


async def _enqueue_in_a_failing_money_transaction(db: Database) -> None:
    async with money_transaction(db) as session:
        jobs.enqueue_after_commit(session, "tests.never_sent", 8)
        raise LookupError("the money transaction fails")

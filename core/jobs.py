"""Background jobs, sent only after the transaction that caused them commits.

Services call :func:`enqueue_after_commit` with the session they are working in. The job waits in
the session until its outermost transaction commits, and is dropped if it (or the savepoint the
job was enqueued in) rolls back, so a worker never sees a job about data that does not exist.
Jobs are addressed by actor name (``"<package>.<verb_noun>"``), so apps and services never import
the workers package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.db.after_commit import call_after_commit

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"


@dataclass(frozen=True)
class Job:
    """One message for an actor: its name and its arguments, which are ids, never objects."""

    actor_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


JobSender = Callable[[Job], None]


def send_to_broker(job: Job) -> None:
    """Hand a job to the configured Dramatiq broker, on the queue of its actor when it is known."""
    broker = dramatiq.get_broker()
    queue_name = DEFAULT_QUEUE
    try:
        queue_name = broker.get_actor(job.actor_name).queue_name
    except dramatiq.errors.ActorNotFound:
        logger.debug("actor %s not declared in this process; using queue %s", job.actor_name, queue_name)
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue_name, actor_name=job.actor_name, args=job.args, kwargs=job.kwargs, options={}
    )
    broker.enqueue(message)


_sender: JobSender = send_to_broker


def set_sender(sender: JobSender) -> JobSender:
    """Replace how jobs leave the process (tests record them); returns the previous sender."""
    global _sender
    previous, _sender = _sender, sender
    return previous


def send_now(actor_name: str, *args: Any, **kwargs: Any) -> None:
    """Send a job that depends on no uncommitted data (a scheduler tick, say)."""
    _sender(Job(actor_name, args, kwargs))


def enqueue_after_commit(session: AsyncSession | Session, actor_name: str, *args: Any, **kwargs: Any) -> None:
    """Record a job in ``session``; it is sent when the session's outermost transaction commits
    (:func:`core.db.after_commit.call_after_commit`)."""
    job = Job(actor_name, args, kwargs)
    call_after_commit(session, lambda: _sender(job))

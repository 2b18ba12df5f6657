"""The dead-letter middleware: a message that exhausted its retries is stored for the back office.

Dramatiq's ``Retries`` middleware marks a message failed once it has no retry left (or at once for
an actor with ``max_retries=0``); this middleware, whose after-hook runs after Retries' one,
records such a message with its actor, arguments, last error and time into
:mod:`core.dead_letters`. It runs on every broker the
workers build (Redis in production, the stub broker of the in-process demo worker), so staff see
one list either way. Recording never raises into Dramatiq: a failure to record is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread

from core.db import Database
from core.dead_letters import ERROR_LIMIT, FailedMessage, record_dead_letter

logger = logging.getLogger(__name__)

DatabaseSource = Callable[[], Database]


def _runtime_database() -> Database:
    from workers import runtime

    return runtime.database()


def error_text(exception: BaseException, traceback_text: str | None) -> str:
    """``Type: message``, then as much of the traceback's end as fits."""
    head = f"{type(exception).__name__}: {exception}"
    if not traceback_text:
        return head[:ERROR_LIMIT]
    room = ERROR_LIMIT - len(head) - 1
    return head[:ERROR_LIMIT] if room <= 0 else f"{head}\n{traceback_text[-room:]}"


class DeadLetters(dramatiq.Middleware):
    """Record every message Dramatiq gave up on."""

    def __init__(self, database: DatabaseSource = _runtime_database) -> None:
        self.database = database

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        failed = FailedMessage(
            message_id=str(message.message_id),
            queue_name=str(message.queue_name),
            actor_name=str(message.actor_name),
            args=tuple(message.args),
            kwargs=dict(message.kwargs),
            # Retries counts the attempt that failed last too; stored: retries after the first attempt
            retries=max(0, int(message.options.get("retries", 0)) - 1),
            error=error_text(exception, message.options.get("traceback")),
        )
        # A failure to record is not caught here: Dramatiq's own middleware boundary
        # (Broker.emit_after) logs it at CRITICAL with its traceback, and the other middleware still run.
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError(
                f"could not record dead letter for {failed.actor_name} ({failed.message_id}): "
                "the AsyncIO middleware's event loop is not running"
            )
        loop_thread.run_coroutine(record_dead_letter(self.database(), failed))
        logger.warning("job %s (%s) moved to the dead letters", failed.actor_name, failed.message_id)

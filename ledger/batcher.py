"""Group commit: journals posted concurrently in one process share one posting transaction.

Many callers each posting one transfer pay for one transaction each: a lock round trip, a write,
a commit. :class:`PostingBatcher` queues what concurrent callers post and hands it to
:func:`ledger.posting.post` as one batch, then gives each caller its own results. Nothing about
the outcome changes: every journal is still all-or-nothing on its own, keys keep their
idempotency, and a caller's journals are never split across batches. Only the cost is shared.

While one batch is being written, the next one fills up; at most ``max_in_flight`` batches run at
once (they lock their accounts in sorted order like any other poster, so they can't deadlock).
A batch starts on the event loop's next turn after a caller queues, never inside the call: the
callers that a finished batch wakes all queue again in one turn, and starting at once would send
the first of them alone and make the others wait for it (batches of 1 and 15 instead of 16, twice
the commits for the same work).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from core.db import Database
from ledger.errors import InvalidBatchError
from ledger.posting import post
from ledger.requests import Journal, TransferRequest, TransferResult

DEFAULT_MAX_TRANSFERS = 1_000
DEFAULT_MAX_IN_FLIGHT = 2


@dataclass
class _Waiting:
    journals: Sequence[Journal]
    transfers: int
    done: asyncio.Future[list[TransferResult]] = field(repr=False)


class PostingBatcher:
    """Posts journals for concurrent callers of one process in shared batches."""

    def __init__(
        self,
        db: Database,
        *,
        max_transfers: int = DEFAULT_MAX_TRANSFERS,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.db = db
        self.max_transfers = max_transfers
        self.max_in_flight = max_in_flight
        self._queue: list[_Waiting] = []
        self._in_flight = 0
        self._start_pending = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def post(self, journals: Sequence[Journal]) -> list[TransferResult]:
        """Post ``journals`` (with others' journals, maybe) and return this caller's results."""
        if isinstance(journals, Journal) or not all(isinstance(j, Journal) and j.transfers for j in journals):
            raise InvalidBatchError("post a sequence of non-empty Journal objects")
        if not all(isinstance(t, TransferRequest) for j in journals for t in j.transfers):
            raise InvalidBatchError("a journal holds TransferRequest objects only")
        done: asyncio.Future[list[TransferResult]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(journals, sum(len(j.transfers) for j in journals), done))
        self._start_soon()
        return await done

    def _start_soon(self) -> None:
        if not self._start_pending:
            self._start_pending = True
            asyncio.get_running_loop().call_soon(self._start_batches)

    def _start_batches(self) -> None:
        self._start_pending = False
        while self._queue and self._in_flight < self.max_in_flight:
            taken: list[_Waiting] = []
            size = 0
            while self._queue and (not taken or size + self._queue[0].transfers <= self.max_transfers):
                waiting = self._queue.pop(0)
                taken.append(waiting)
                size += waiting.transfers
            self._in_flight += 1
            task = asyncio.create_task(self._post(taken))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, taken: list[_Waiting]) -> None:
        try:
            results = await post(self.db, [journal for waiting in taken for journal in waiting.journals])
        except Exception as exc:  # every caller of the batch learns of the failure
            for waiting in taken:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
        else:
            start = journals_before = 0
            for waiting in taken:
                mine = [
                    replace(result, journal_index=result.journal_index - journals_before)
                    for result in results[start : start + waiting.transfers]
                ]
                if not waiting.done.done():
                    waiting.done.set_result(mine)
                start += waiting.transfers
                journals_before += len(waiting.journals)
        finally:
            self._in_flight -= 1
            self._start_soon()

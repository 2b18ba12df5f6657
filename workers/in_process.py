"""Running workers inside another process: the demo and the tests.

A Dramatiq :class:`~dramatiq.Worker` consumes on threads of this process, so the demo needs no
Redis and no second process. Production runs ``brokerdesk worker`` processes instead.
"""

from __future__ import annotations

import dramatiq

DEFAULT_THREADS = 2


def start_worker(broker: dramatiq.Broker, threads: int = DEFAULT_THREADS) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker

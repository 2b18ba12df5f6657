"""Running workers inside another process: the demo and the tests.

A Dramatiq :class:`~dramatiq.Worker` consumes on threads of this process, so the demo needs no
Redis and no second process. Production runs ``brokerdesk worker`` processes instead.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import dramatiq

DEFAULT_THREADS = 2


def start_worker(broker: dramatiq.Broker, threads: int = DEFAULT_THREADS) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker


def declare_actors() -> ModuleType:
    """Declare every worker actor on Dramatiq's global broker (make the broker first).

    Importing :mod:`workers.actors` declares the actors on the broker that is global at that
    moment, once per process; when it was imported already (an earlier broker in this process),
    it is reloaded, or jobs sent by name would reach a broker that knows no queue.
    """
    declared = sys.modules.get("workers.actors")
    if declared is not None:
        return importlib.reload(declared)
    return importlib.import_module("workers.actors")

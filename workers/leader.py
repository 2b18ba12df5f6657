"""Leader election through a Redis lock, so only one of several scheduler processes sends jobs."""

from __future__ import annotations

import logging
import threading

from redis import Redis
from redis.lock import Lock

from workers.scheduler import Scheduler

logger = logging.getLogger(__name__)

LOCK_NAME = "brokerdesk:scheduler:leader"
LOCK_SECONDS = 30


def run_as_leader(redis: Redis, scheduler: Scheduler, stop: threading.Event, interval: float = 1.0) -> None:
    """Tick the scheduler while holding the lock; a follower retries until the leader's lock lapses."""
    lock: Lock = redis.lock(LOCK_NAME, timeout=LOCK_SECONDS)
    leading = False
    while not stop.is_set():
        if not leading:
            leading = lock.acquire(blocking=False)
            if leading:
                logger.info("this scheduler is the leader")
        else:
            try:
                lock.reacquire()
            except Exception:  # the lock lapsed (a long pause); step down and compete again
                logger.warning("scheduler lost the leader lock")
                leading = False
                continue
            try:
                scheduler.tick()
            except Exception:  # a broker hiccup must not kill the scheduler; it retries next tick
                logger.exception("scheduler tick failed")
        stop.wait(interval)
    if leading:
        lock.release()

"""Every actor of BrokerDesk, declared on the configured broker.

Actors are thin: they load by id and call a service. Their names are ``"<package>.<verb_noun>"``
so that services can enqueue them by name through :mod:`core.jobs` without importing this module.
"""

from __future__ import annotations

import logging

import dramatiq

from workers import runtime

logger = logging.getLogger(__name__)


@dramatiq.actor(actor_name="workers.record_heartbeat", max_retries=0)
async def record_heartbeat() -> None:
    """Proves from time to time that a worker consumes jobs and reaches the database."""
    await runtime.database().ping()
    logger.debug("worker heartbeat: database reachable")

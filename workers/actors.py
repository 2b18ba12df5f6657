"""Every actor of BrokerDesk, declared on the configured broker.

Actors are thin: they load by id and call a service. Their names are ``"<package>.<verb_noun>"``
so that services can enqueue them by name through :mod:`core.jobs` without importing this module.
"""

from __future__ import annotations

import logging

import dramatiq

from cashier import sweeps as cashier_sweeps
from core.mail.delivery import deliver_mail
from workers import runtime

logger = logging.getLogger(__name__)


@dramatiq.actor(actor_name="workers.record_heartbeat", max_retries=0)
async def record_heartbeat() -> None:
    """Proves from time to time that a worker consumes jobs and reaches the database."""
    await runtime.database().ping()
    logger.debug("worker heartbeat: database reachable")


@dramatiq.actor(actor_name="core.send_mail", max_retries=8, min_backoff=10_000, max_backoff=3_600_000)
async def send_mail(mail_id: int) -> None:
    """Send one outbox mail over SMTP (or keep it for the dev mailbox); retried with backoff."""
    await deliver_mail(runtime.database(), runtime.runtime().settings, mail_id)


@dramatiq.actor(actor_name="cashier.poll_stale_deposits", max_retries=0)
async def poll_stale_deposits() -> None:
    """Ask the PSP about deposits whose final webhook is late; credits exactly once either way."""
    outcomes = await cashier_sweeps.poll_stale_deposits(runtime.database(), runtime.runtime().settings)
    if outcomes:
        logger.info("polled stale deposits: %s", outcomes)


@dramatiq.actor(actor_name="cashier.flag_overdue_withdrawals", max_retries=0)
async def flag_overdue_withdrawals() -> None:
    """Flag withdrawal requests left unhandled past their deadline."""
    await cashier_sweeps.flag_overdue_withdrawals(runtime.database())


@dramatiq.actor(actor_name="cashier.load_rates", max_retries=3, min_backoff=10_000)
async def load_rates() -> None:
    """Load exchange rates from the configured source (the demo: a local file)."""
    await cashier_sweeps.load_configured_rates(runtime.database(), runtime.runtime().settings)

"""Every actor of BrokerDesk, declared on the configured broker.

Actors are thin: they load by id and call a service. Their names are ``"<package>.<verb_noun>"``
so that services can enqueue them by name through :mod:`core.jobs` without importing this module.
"""

from __future__ import annotations

import logging

import dramatiq

from ib import engine, payouts, recompute
from workers import runtime

logger = logging.getLogger(__name__)


@dramatiq.actor(actor_name="workers.record_heartbeat", max_retries=0)
async def record_heartbeat() -> None:
    """Proves from time to time that a worker consumes jobs and reaches the database."""
    await runtime.database().ping()
    logger.debug("worker heartbeat: database reachable")


@dramatiq.actor(actor_name="ib.pay_out_commissions")
async def pay_out_commissions(partner_id: int) -> None:
    """An IB on instant payouts earned commission: move what is payable to its wallet."""
    await payouts.pay_out(runtime.database(), partner_id)


@dramatiq.actor(actor_name="ib.run_daily_payouts")
async def run_daily_payouts() -> None:
    """Hourly tick; the payout key names the day, so only the day's first tick pays anyone."""
    await payouts.run_scheduled(runtime.database(), "daily")


@dramatiq.actor(actor_name="ib.run_monthly_payouts")
async def run_monthly_payouts() -> None:
    """Hourly tick; the payout key names the month, so only the month's first tick pays anyone."""
    await payouts.run_scheduled(runtime.database(), "monthly")


@dramatiq.actor(actor_name="ib.publish_recompute")
async def publish_recompute(run_id: int) -> None:
    """Staff confirmed a dry-run recompute: write its lines and post the differences, once."""
    await recompute.publish(runtime.database(), run_id)


@dramatiq.actor(actor_name="ib.recompute_deals")
async def recompute_deals(deal_ids: list[int]) -> None:
    """Recompute stored deals by id (after a correction) and post the differences."""
    await engine.recompute_stored_deals(runtime.database(), deal_ids)

"""Every actor of BrokerDesk, declared on the configured broker.

Actors are thin: they load by id and call a service. Their names are ``"<package>.<verb_noun>"``
so that services can enqueue them by name through :mod:`core.jobs` without importing this module.
"""

from __future__ import annotations

import logging

import dramatiq

from core import clock
from core.mail.delivery import deliver_mail
from core.mail.outbox import queue_mail
from ib import engine, payouts, recompute
from kyc import expiry
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


@dramatiq.actor(actor_name="kyc.notify_expiring_documents", max_retries=3)
async def notify_expiring_documents() -> None:
    """Mail clients whose approved documents expire within the notice period (30 days by default);
    a document is announced once, so a second run the same day mails nobody."""
    now = clock.utcnow()
    settings = runtime.runtime().settings
    async with runtime.database().transaction() as session:
        mailed = await expiry.notify_expiring_documents(
            session, now.date(), now, settings.public_portal_url, queue_mail=queue_mail
        )
    logger.info("expiring KYC documents: %d client(s) mailed", mailed)


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

"""Every actor of BrokerDesk, declared on the configured broker.

Actors are thin: they load by id and call a service. Their names are ``"<package>.<verb_noun>"``
so that services can enqueue them by name through :mod:`core.jobs` without importing this module.
"""

from __future__ import annotations

import logging
from datetime import datetime

import dramatiq

from analytics import recompute as analytics_recompute
from cashier import sweeps as cashier_sweeps
from comms import campaign_sending
from core import clock
from core.audit.service import SYSTEM
from core.jobs import send_now
from core.mail.delivery import deliver_mail
from core.mail.outbox import queue_mail
from core.mail.templates import render_strings
from crm import leads as crm_leads
from crm import tasks as crm_tasks
from ib import bridge_feed, engine, payouts, recompute
from kyc import expiry
from mt_bridge import command_worker, reconciliation, sync
from risk import engine as risk_engine
from support import sla as support_sla
from webhooks import delivery as webhook_delivery
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


@dramatiq.actor(actor_name="crm.capture_unfinished_registrations", max_retries=3)
async def capture_unfinished_registrations() -> None:
    """Make leads of registrations left unfinished for days, and refresh the stage of earlier ones;
    a client has one lead at most, so a rerun creates nothing twice."""
    async with runtime.database().transaction() as session:
        result = await crm_leads.capture_unfinished_registrations(session, clock.utcnow(), actor=SYSTEM)
    logger.info("unfinished registrations: %s", result)


@dramatiq.actor(actor_name="crm.remind_overdue_tasks", max_retries=3)
async def remind_overdue_tasks() -> None:
    """Mail each assignee once per overdue task; claimed tasks are never mailed again."""
    now = clock.utcnow()
    async with runtime.database().transaction() as session:
        mailed = await crm_tasks.remind_overdue_tasks(
            session, now.date(), now, runtime.runtime().settings.public_backoffice_url, queue_mail=queue_mail
        )
    logger.info("overdue task reminders: %d mailed", mailed)


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


@dramatiq.actor(actor_name="ib.compute_dry_run")
async def compute_dry_run(run_id: int) -> None:
    """Staff asked for a dry-run recompute: compute the period and store its per-IB diff."""
    await recompute.compute_dry_run(runtime.database(), run_id)


@dramatiq.actor(actor_name="ib.publish_recompute")
async def publish_recompute(run_id: int) -> None:
    """Staff confirmed a dry-run recompute: write its lines and post the differences, once."""
    await recompute.publish(runtime.database(), run_id)


@dramatiq.actor(actor_name="ib.recompute_deals")
async def recompute_deals(deal_ids: list[int]) -> None:
    """Recompute stored deals by id (after a correction) and post the differences."""
    await engine.recompute_stored_deals(runtime.database(), deal_ids)


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


@dramatiq.actor(actor_name="cashier.settle_transfers", max_retries=0)
async def settle_transfers() -> None:
    """Complete or unwind wallet/trading-account transfers from their outbox commands' outcomes."""
    await cashier_sweeps.settle_internal_transfers(runtime.database())


@dramatiq.actor(actor_name="cashier.load_rates", max_retries=3, min_backoff=10_000)
async def load_rates() -> None:
    """Load exchange rates from the configured source (the demo: a local file)."""
    await cashier_sweeps.load_configured_rates(runtime.database(), runtime.runtime().settings)


@dramatiq.actor(actor_name="mt_bridge.process_command", max_retries=3, min_backoff=1000)
async def process_command(command_id: int) -> None:
    """Send one outbox command to its server (exactly once; see mt_bridge.command_worker)."""
    await command_worker.process_command(
        runtime.database(), runtime.platforms().platform, runtime.secrets_box(), command_id
    )


@dramatiq.actor(actor_name="mt_bridge.process_due_commands", max_retries=0)
async def process_due_commands() -> None:
    """Pick up commands whose backoff has passed or whose worker died holding them."""
    await command_worker.process_due_commands(
        runtime.database(), runtime.platforms().platform, runtime.secrets_box(), concurrency=4
    )


@dramatiq.actor(actor_name="mt_bridge.sync_all_servers", max_retries=0)
async def sync_all_servers() -> None:
    """Fan out one sync job per enabled server, so each server has its own consumer."""
    for server_id in await sync.enabled_server_ids(runtime.database()):
        send_now("mt_bridge.sync_server", server_id)


@dramatiq.actor(actor_name="mt_bridge.sync_server", max_retries=0, time_limit=300_000)
async def sync_server(server_id: int) -> None:
    """Pull one server's deals, positions and balances and post its deals to the ledger; then the
    commission engine takes what the pass stored (even when it failed after some chunks)."""
    started = clock.utcnow()
    try:
        await sync.sync_server(runtime.database(), runtime.platforms().platform, server_id)
    except sync.SyncBusyError:
        logger.debug("server %s is already being synced", server_id)
    finally:
        send_now(bridge_feed.FEED_ACTOR, server_id, started.isoformat(), started.isoformat())


@dramatiq.actor(actor_name="mt_bridge.rescan_deals", max_retries=0, time_limit=900_000)
async def rescan_deals(server_id: int) -> None:
    """Re-read one server's trailing days for dealers' edits and deletes; then the commission
    engine recomputes the deals edited or deleted there."""
    started = clock.utcnow()
    try:
        await sync.rescan_deals(runtime.database(), runtime.platforms().platform, server_id)
    finally:
        rescanned_from = started - sync.DEFAULT_SYNC_POLICY.rescan
        send_now(bridge_feed.FEED_ACTOR, server_id, started.isoformat(), rescanned_from.isoformat())


@dramatiq.actor(actor_name=bridge_feed.FEED_ACTOR, max_retries=8, min_backoff=5_000, time_limit=900_000)
async def process_synced_deals(server_id: int, changed_since: str, deleted_since: str) -> None:
    """Commission lines and ledger postings for the trade deals a sync pass stored, changed or
    deleted; a redelivery finds every deal unchanged and posts nothing."""
    await bridge_feed.process_synced_deals(
        runtime.database(),
        server_id,
        changed_since=datetime.fromisoformat(changed_since),
        deleted_since=datetime.fromisoformat(deleted_since),
    )


@dramatiq.actor(actor_name="mt_bridge.rescan_all_servers", max_retries=0)
async def rescan_all_servers() -> None:
    for server_id in await sync.enabled_server_ids(runtime.database()):
        send_now("mt_bridge.rescan_deals", server_id)


@dramatiq.actor(actor_name="mt_bridge.reconcile_server", max_retries=0, time_limit=900_000)
async def reconcile_server(server_id: int) -> None:
    """Compare every live login's ledger balance with the server's and store the differences."""
    await reconciliation.reconcile_server(runtime.database(), runtime.platforms().platform, server_id)


@dramatiq.actor(actor_name="mt_bridge.reconcile_all_servers", max_retries=0)
async def reconcile_all_servers() -> None:
    for server_id in await sync.enabled_server_ids(runtime.database()):
        send_now("mt_bridge.reconcile_server", server_id)


@dramatiq.actor(actor_name="risk.run_rules", max_retries=0, time_limit=900_000)
async def run_risk_rules() -> None:
    """Run every risk rule from its watermark; alerts are unique, so a redelivery raises nothing new."""
    runs = await risk_engine.run_rules(runtime.database())
    logger.info("risk rules: %s", {run.rule: len(run.raised) for run in runs if run.raised})


@dramatiq.actor(actor_name="comms.send_campaign", max_retries=3, min_backoff=10_000)
async def send_campaign(campaign_id: int) -> None:
    """Mail the next batch of a sending campaign that its rate allows; a recipient already claimed
    is never mailed again, so a redelivery or a second worker mails nobody twice."""
    result = await campaign_sending.send_batch(
        runtime.database(), runtime.runtime().settings, render_strings, campaign_id
    )
    logger.info("campaign %s batch: %s", campaign_id, result)
    if result.more:
        send_now("comms.send_campaign", campaign_id)


@dramatiq.actor(actor_name="comms.send_due_campaigns", max_retries=0)
async def send_due_campaigns() -> None:
    """Start scheduled campaigns that are due and send the next batch of every sending one."""
    for campaign_id in await campaign_sending.start_due_and_fan_out(runtime.database()):
        send_now("comms.send_campaign", campaign_id)


@dramatiq.actor(actor_name="webhooks.deliver_due", max_retries=0, time_limit=300_000)
async def deliver_due_webhooks() -> None:
    """Fan new domain events out to the endpoints that want them, then attempt every due delivery;
    each delivery is claimed before it is sent, so overlapping sweeps never send one twice at once."""
    result = await webhook_delivery.deliver_due(runtime.database(), runtime.secrets_box())
    if result.statuses or result.fanned_out:
        logger.info(
            "webhooks: %d fanned out, %d delivered, %d retrying, %d failed",
            result.fanned_out,
            result.delivered,
            result.retrying,
            result.failed,
        )


@dramatiq.actor(actor_name=webhook_delivery.SEND_ACTOR, max_retries=0)
async def send_webhook_delivery(delivery_id: int) -> None:
    """A replay staff asked for: one attempt now (the sweep retries it if that fails)."""
    await webhook_delivery.send_one(runtime.database(), runtime.secrets_box(), delivery_id)


@dramatiq.actor(actor_name="support.mark_sla_breaches", max_retries=0)
async def mark_sla_breaches() -> None:
    """Record each support ticket whose first response or resolution is past its SLA target; a
    breach is marked once, so a second run marks nothing new."""
    async with runtime.database().transaction() as session:
        marked = await support_sla.mark_breaches(session, clock.utcnow())
    if marked:
        logger.info("support SLA breaches marked: %d", len(marked))


@dramatiq.actor(
    actor_name="analytics.recompute_client_metrics", max_retries=3, min_backoff=60_000, time_limit=900_000
)
async def recompute_client_metrics() -> None:
    """Replace every client's figures; a redelivery writes the same rows again."""
    result = await analytics_recompute.recompute_client_metrics(runtime.database())
    logger.info("analytics: figures of %d clients recomputed", result.clients)

"""The scheduler: sends periodic jobs by actor name.

In production exactly one scheduler runs; a Redis lock elects it when several are started. The
demo runs it on a thread of the demo process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.jobs import send_now

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """Send ``actor_name`` every ``every_seconds``."""

    actor_name: str
    every_seconds: float


DAY_SECONDS = 24 * 3600.0

SCHEDULES: tuple[Schedule, ...] = (
    Schedule("workers.record_heartbeat", 60.0),
    Schedule("kyc.notify_expiring_documents", DAY_SECONDS),
    Schedule("crm.capture_unfinished_registrations", 3600.0),
    Schedule("crm.remind_overdue_tasks", 3600.0),
    Schedule("ib.run_daily_payouts", 3600.0),
    Schedule("ib.run_monthly_payouts", 3600.0),
    Schedule("cashier.poll_stale_deposits", 60.0),
    Schedule("cashier.flag_overdue_withdrawals", 300.0),
    Schedule("cashier.load_rates", 3600.0),
    Schedule("cashier.settle_transfers", 5.0),
    Schedule("mt_bridge.process_due_commands", 5.0),
    Schedule("mt_bridge.sync_all_servers", 10.0),
    Schedule("mt_bridge.rescan_all_servers", 3600.0),
    Schedule("mt_bridge.reconcile_all_servers", 3600.0),
    Schedule("risk.run_rules", 900.0),
    Schedule("comms.send_due_campaigns", 15.0),
    Schedule("webhooks.deliver_due", 5.0),
    Schedule("support.mark_sla_breaches", 300.0),
    Schedule("analytics.recompute_client_metrics", 3600.0),
)


class Scheduler:
    """Sends each schedule's job when it falls due; ``tick`` is separate so tests drive it."""

    def __init__(
        self,
        schedules: tuple[Schedule, ...] = SCHEDULES,
        clock: Callable[[], float] = time.monotonic,
        send: Callable[[str], None] = send_now,
    ) -> None:
        self.schedules = schedules
        self.clock = clock
        self.send = send
        self.next_due = {schedule.actor_name: clock() for schedule in schedules}

    def tick(self) -> list[str]:
        now = self.clock()
        sent = []
        for schedule in self.schedules:
            if now >= self.next_due[schedule.actor_name]:
                self.send(schedule.actor_name)
                self.next_due[schedule.actor_name] = now + schedule.every_seconds
                sent.append(schedule.actor_name)
        return sent

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a broker hiccup must not kill the scheduler; it retries next tick
                logger.exception("scheduler tick failed")
            stop.wait(interval)

"""Periodic work the scheduler triggers: poll PSP deposits whose webhook is late, flag overdue
withdrawals, load exchange rates from the configured file. Each is idempotent: running it twice
changes nothing the first run did not."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from cashier import deposits, internal_transfers, withdrawals
from cashier.config import payment_providers
from cashier.errors import CashierError
from cashier.models import Deposit
from cashier.rates import load_rates_file
from core.audit.service import SYSTEM
from core.clock import utcnow
from core.db import Database
from core.settings import Settings

logger = logging.getLogger(__name__)

POLL_AFTER = timedelta(minutes=2)
"""A webhook normally arrives within seconds; after this the PSP is asked directly."""


async def poll_stale_deposits(db: Database, settings: Settings) -> dict[str, int]:
    """Ask the PSP about every deposit still waiting after :data:`POLL_AFTER`; answers outcome counts."""
    providers = payment_providers(settings)
    outcomes: dict[str, int] = {}
    for deposit_id in await deposits.awaiting_payment_ids(db, utcnow() - POLL_AFTER):
        async with db.session() as session:
            deposit = await session.get(Deposit, deposit_id)
        psp = providers.get(deposit.psp or "") if deposit else None
        if psp is None:
            continue
        try:
            outcome = await deposits.poll_deposit(db, psp, deposit_id)
        except CashierError as exc:
            logger.warning("polling deposit %s failed: %s", deposit_id, exc)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


async def flag_overdue_withdrawals(db: Database) -> int:
    return await withdrawals.flag_overdue(db)


async def load_configured_rates(db: Database, settings: Settings) -> int:
    """Load the rates file when one is configured; answers how many rates were stored."""
    if not settings.rates_file:
        return 0
    return len(await load_rates_file(db, Path(settings.rates_file), SYSTEM))


async def settle_internal_transfers(db: Database) -> dict[str, int]:
    """Finish transfers whose MT balance operation has a final answer (completed or unwound)."""
    return await internal_transfers.settle_transfers(db)

"""What needs staff now: every approval queue with its size and the age of its oldest item, the
reconciliation differences, failed bridge commands and dead-letter jobs.

The back office asks only for the queues the signed-in staff member may see (their permissions
decide; see ``backoffice.pages``), so nothing is counted for a tile that is not shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.models import (
    BankAccount,
    BankAccountStatus,
    Deposit,
    DepositStatus,
    InternalTransfer,
    TransferStatus,
    Withdrawal,
    WithdrawalStatus,
)
from core.clock import as_utc
from core.dead_letters import waiting_summary
from ib.models import Application, Payout
from kyc.models import CaseStatus, KycCase
from mt_bridge.models import Command, CommandKind, CommandStatus
from mt_bridge.reconciliation import latest_runs


@dataclass(frozen=True)
class QueueState:
    key: str
    count: int
    oldest: datetime | None

    def age_seconds(self, now: datetime) -> int | None:
        return None if self.oldest is None else max(0, int((now - self.oldest).total_seconds()))


async def _count_oldest(
    session: AsyncSession, model: Any, moment: Any, *conditions: Any
) -> tuple[int, datetime | None]:
    count, oldest = (
        await session.execute(select(func.count(), func.min(moment)).select_from(model).where(*conditions))
    ).one()
    return int(count), as_utc(oldest) if oldest is not None else None


async def _kyc(session: AsyncSession) -> tuple[int, datetime | None]:
    waiting = (CaseStatus.SUBMITTED, CaseStatus.AWAITING_SECOND_REVIEW)
    return await _count_oldest(session, KycCase, KycCase.submitted_at, KycCase.status.in_(waiting))


async def _deposits(session: AsyncSession) -> tuple[int, datetime | None]:
    return await _count_oldest(
        session, Deposit, Deposit.created_at, Deposit.status == DepositStatus.AWAITING_REVIEW
    )


async def _withdrawals(session: AsyncSession) -> tuple[int, datetime | None]:
    waiting = (WithdrawalStatus.PENDING_APPROVAL, WithdrawalStatus.AWAITING_SECOND_APPROVAL)
    return await _count_oldest(session, Withdrawal, Withdrawal.created_at, Withdrawal.status.in_(waiting))


async def _bank_accounts(session: AsyncSession) -> tuple[int, datetime | None]:
    return await _count_oldest(
        session, BankAccount, BankAccount.created_at, BankAccount.status == BankAccountStatus.UNVERIFIED
    )


async def _transfers(session: AsyncSession) -> tuple[int, datetime | None]:
    return await _count_oldest(
        session, InternalTransfer, InternalTransfer.created_at, InternalTransfer.status == TransferStatus.SENT
    )


def _commands(
    kind: CommandKind | None, status: CommandStatus
) -> Callable[[AsyncSession], Awaitable[tuple[int, datetime | None]]]:
    async def count(session: AsyncSession) -> tuple[int, datetime | None]:
        conditions = [Command.status == status]
        if kind is not None:
            conditions.append(Command.kind == kind)
        moment = Command.created_at if status == CommandStatus.AWAITING_APPROVAL else Command.updated_at
        return await _count_oldest(session, Command, moment, *conditions)

    return count


async def _ib_applications(session: AsyncSession) -> tuple[int, datetime | None]:
    return await _count_oldest(
        session, Application, Application.submitted_at, Application.status == "pending"
    )


async def _payout_holds(session: AsyncSession) -> tuple[int, datetime | None]:
    return await _count_oldest(session, Payout, Payout.created_at, Payout.status == "held")


async def _reconciliation(session: AsyncSession) -> tuple[int, datetime | None]:
    """Differences left by each server's newest run; the age is of the oldest such run."""
    runs = [run for run in await latest_runs(session) if run.differences]
    oldest = min((as_utc(run.run.started_at) for run in runs), default=None)
    return sum(len(run.differences) for run in runs), oldest


async def _dead_letters(session: AsyncSession) -> tuple[int, datetime | None]:
    summary = await waiting_summary(session)
    return summary.count, summary.oldest


QUEUES: dict[str, Callable[[AsyncSession], Awaitable[tuple[int, datetime | None]]]] = {
    "kyc": _kyc,
    "deposits": _deposits,
    "withdrawals": _withdrawals,
    "bank_accounts": _bank_accounts,
    "transfers": _transfers,
    "account_approvals": _commands(CommandKind.CREATE_ACCOUNT, CommandStatus.AWAITING_APPROVAL),
    "leverage_changes": _commands(CommandKind.CHANGE_LEVERAGE, CommandStatus.AWAITING_APPROVAL),
    "ib_applications": _ib_applications,
    "payout_holds": _payout_holds,
    "reconciliation": _reconciliation,
    "failed_commands": _commands(None, CommandStatus.FAILED),
    "dead_letters": _dead_letters,
}
"""Every queue the dashboard knows, in the order it shows them. Risk alerts are counted by
``backoffice.pages`` from ``risk.open_alert_counts``: ``risk`` is this package's sibling."""


async def queue_states(session: AsyncSession, keys: Iterable[str]) -> list[QueueState]:
    """The state of each queue named in ``keys`` (unknown names are ignored), in :data:`QUEUES` order."""
    wanted = set(keys)
    states = []
    for key, read in QUEUES.items():
        if key in wanted:
            count, oldest = await read(session)
            states.append(QueueState(key, count, oldest))
    return states

"""Read models of the cashier: a client's funding history and the finance queues."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from cashier.models import Deposit, Withdrawal
from core.db import Database

QUEUE_LIMIT = 500
EXPORT_LIMIT = 50_000


@dataclass(frozen=True)
class HistoryItem:
    kind: str
    id: int
    currency: str
    amount: int
    status: str
    method: str
    created_at: datetime
    reason: str | None


async def funding_history(db: Database, client_id: int, limit: int = 100) -> list[HistoryItem]:
    """Deposits and withdrawals of one client, newest first."""
    async with db.session() as session:
        deposits = await session.scalars(
            select(Deposit).where(Deposit.client_id == client_id).order_by(Deposit.id.desc()).limit(limit)
        )
        withdrawals = await session.scalars(
            select(Withdrawal)
            .where(Withdrawal.client_id == client_id)
            .order_by(Withdrawal.id.desc())
            .limit(limit)
        )
        items = [
            HistoryItem(
                "deposit",
                d.id,
                d.currency,
                d.credited_amount or d.amount,
                d.status,
                d.method,
                d.created_at,
                d.reason,
            )
            for d in deposits
        ] + [
            HistoryItem(
                "withdrawal", w.id, w.currency, w.amount, w.status, w.destination_kind, w.created_at, w.reason
            )
            for w in withdrawals
        ]
    return sorted(items, key=lambda item: item.created_at, reverse=True)[:limit]


@dataclass(frozen=True)
class QueueFilter:
    status: str = ""
    currency: str = ""
    client_id: int | None = None
    flagged_only: bool = False


async def deposit_queue(db: Database, filters: QueueFilter, limit: int = QUEUE_LIMIT) -> list[Deposit]:
    statement = select(Deposit).order_by(Deposit.id.desc()).limit(limit)
    if filters.status:
        statement = statement.where(Deposit.status == filters.status)
    if filters.currency:
        statement = statement.where(Deposit.currency == filters.currency)
    if filters.client_id is not None:
        statement = statement.where(Deposit.client_id == filters.client_id)
    async with db.session() as session:
        return list(await session.scalars(statement))


async def withdrawal_queue(db: Database, filters: QueueFilter, limit: int = QUEUE_LIMIT) -> list[Withdrawal]:
    statement = select(Withdrawal).order_by(Withdrawal.id.desc()).limit(limit)
    if filters.status:
        statement = statement.where(Withdrawal.status == filters.status)
    if filters.currency:
        statement = statement.where(Withdrawal.currency == filters.currency)
    if filters.client_id is not None:
        statement = statement.where(Withdrawal.client_id == filters.client_id)
    if filters.flagged_only:
        statement = statement.where(Withdrawal.flagged_at.is_not(None))
    async with db.session() as session:
        return list(await session.scalars(statement))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def rows_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def deposits_csv(deposits: Sequence[Deposit]) -> str:
    return rows_csv(
        [
            "id",
            "client_id",
            "method",
            "psp",
            "currency",
            "amount",
            "credited_amount",
            "status",
            "reason",
            "created_at",
        ],
        [
            [
                d.id,
                d.client_id,
                d.method,
                d.psp,
                d.currency,
                d.amount,
                d.credited_amount,
                d.status,
                d.reason,
                d.created_at.isoformat(),
            ]
            for d in deposits
        ],
    )


def withdrawals_csv(withdrawals: Sequence[Withdrawal]) -> str:
    return rows_csv(
        [
            "id",
            "client_id",
            "currency",
            "amount",
            "status",
            "destination",
            "first_approver_id",
            "second_approver_id",
            "payout_reference",
            "flagged_at",
            "created_at",
        ],
        [
            [
                w.id,
                w.client_id,
                w.currency,
                w.amount,
                w.status,
                w.destination_kind,
                w.first_approver_id,
                w.second_approver_id,
                w.payout_reference,
                w.flagged_at.isoformat() if w.flagged_at else "",
                w.created_at.isoformat(),
            ]
            for w in withdrawals
        ],
    )

"""Posting mirrored deals to the ledger, each money component exactly once.

For every deal flagged ``needs_posting`` on a live trading account, the difference between what
the server now says (zero once deleted) and what was already posted is posted per component:

- trade deals: profit and swap against the house dealing P&L, commission and fee against fees
  revenue;
- balance operations: against the ledger account named by the outbox command whose tag is in the
  comment, or the house suspense account when the change was made outside the CRM;
- credit deals move credit, not balance, and are never posted.

The transfers and the update of ``posted_*`` commit in one ledger transaction, and each transfer's
idempotency key is ``mt:<server>:<ticket>:<component>:<revision>``, so a crash or a re-run can
neither skip nor double a posting, and an edit posts its difference, a delete its reversal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import Database
from ledger.chart import Purpose, SystemAccounts, ensure_system_accounts
from ledger.posting import post_batch, write_transaction
from ledger.requests import Journal, TransferRequest, posted
from mt_bridge.commands import TAG_PREFIX
from mt_bridge.models import Command, CommandKind, MirroredDeal, TradingAccount, table_of
from mt_bridge.records import BalanceOperationType, DealAction

logger = logging.getLogger(__name__)

DEALS = table_of(MirroredDeal)
ACCOUNTS = table_of(TradingAccount)
COMMANDS = table_of(Command)
POSTING_BATCH = 2000
TAG_PATTERN = re.compile(rf"^{re.escape(TAG_PREFIX)}(\d+)(?: |$)")
BALANCE_ACTIONS = frozenset(int(kind) for kind in BalanceOperationType) - {int(DealAction.CREDIT)}
TRADE_ACTIONS = frozenset({int(DealAction.BUY), int(DealAction.SELL)})
NOT_POSTED_ACTIONS = frozenset(
    {int(DealAction.CREDIT), int(DealAction.BUY_CANCELED), int(DealAction.SELL_CANCELED)}
)
COMPONENTS = ("profit", "commission", "swap", "fee")
TRADE_COUNTERPARTS = {
    "profit": Purpose.DEALING_PNL,
    "swap": Purpose.DEALING_PNL,
    "commission": Purpose.FEES_REVENUE,
    "fee": Purpose.FEES_REVENUE,
}


@dataclass(frozen=True)
class PostingReport:
    deals: int
    transfers: int
    refused: int


def posting_key(server_id: int, ticket: int, component: str, revision: int) -> str:
    """The ledger idempotency key of one component of one deal revision."""
    return f"mt:{server_id}:{ticket}:{component}:{revision}"


def command_id_in(comment: str) -> int | None:
    match = TAG_PATTERN.match(comment)
    return int(match.group(1)) if match else None


async def post_pending_deals(db: Database, server_id: int, batch: int = POSTING_BATCH) -> PostingReport:
    """Post every flagged deal of ``server_id``, ``batch`` deals per ledger transaction."""
    deals = transfers = refused = 0
    while True:
        async with write_transaction(db) as connection:
            report = await _post_one_batch(connection, server_id, batch)
        deals += report.deals
        transfers += report.transfers
        refused += report.refused
        if report.deals < batch or report.deals == report.refused:
            return PostingReport(deals, transfers, refused)


async def _post_one_batch(connection: AsyncConnection, server_id: int, batch: int) -> PostingReport:
    d, a = DEALS.c, ACCOUNTS.c
    rows = (
        await connection.execute(
            select(
                d.id,
                d.ticket,
                d.login,
                d.action,
                d.comment,
                d.deleted,
                d.revision,
                d.profit,
                d.commission,
                d.swap,
                d.fee,
                d.posted_profit,
                d.posted_commission,
                d.posted_swap,
                d.posted_fee,
                a.ledger_account_id,
                a.currency,
            )
            .select_from(
                DEALS.outerjoin(
                    ACCOUNTS,
                    and_(a.server_id == d.server_id, a.login == d.login, a.is_demo.is_(False)),
                )
            )
            .where(d.server_id == server_id, d.needs_posting.is_(True))
            .order_by(d.id)
            .limit(batch)
        )
    ).all()
    if not rows:
        return PostingReport(0, 0, 0)
    counters = await _command_counters(connection, server_id, rows)
    house: dict[str, SystemAccounts] = {}
    journals: list[Journal] = []
    journal_rows: list[Any] = []
    settled: list[dict[str, Any]] = []
    for row in rows:
        if row.ledger_account_id is None or row.action in NOT_POSTED_ACTIONS:
            settled.append(_settled(row, posted_all=False))
            continue
        if row.currency not in house:
            house[row.currency] = await ensure_system_accounts(connection, row.currency)
        requests = _requests_for(server_id, row, house[row.currency], counters)
        if requests:
            journals.append(Journal(requests))
            journal_rows.append(row)
        else:
            settled.append(_settled(row, posted_all=True))
    results = await post_batch(connection, journals) if journals else []
    refused_rows: set[int] = set()
    for result in results:
        if not result.ok:
            refused_rows.add(journal_rows[result.journal_index].id)
            logger.error("ledger refused %s: %s", result.key, result.refusal)
    for row in journal_rows:
        if row.id not in refused_rows:
            settled.append(_settled(row, posted_all=True))
    if settled:
        await connection.execute(
            update(DEALS)
            .where(DEALS.c.id == bindparam("deal_id"))
            .values(
                needs_posting=False,
                posted_profit=bindparam("p_profit"),
                posted_commission=bindparam("p_commission"),
                posted_swap=bindparam("p_swap"),
                posted_fee=bindparam("p_fee"),
            ),
            settled,
        )
    transfers = sum(1 for r in results if r.ok and not r.replayed)
    return PostingReport(len(rows), transfers, len(refused_rows))


def _target(row: Any, component: str) -> int:
    return 0 if row.deleted else int(getattr(row, component))


def _settled(row: Any, *, posted_all: bool) -> dict[str, Any]:
    """The row's new ``posted_*``: its targets when posted, unchanged when nothing may be posted."""
    values = {
        f"p_{name}": _target(row, name) if posted_all else int(getattr(row, f"posted_{name}"))
        for name in COMPONENTS
    }
    return {"deal_id": row.id, **values}


def _requests_for(
    server_id: int, row: Any, house: SystemAccounts, counters: dict[int, int]
) -> list[TransferRequest]:
    requests: list[TransferRequest] = []
    for component in COMPONENTS:
        delta = _target(row, component) - int(getattr(row, f"posted_{component}"))
        if delta == 0:
            continue
        if row.action in TRADE_ACTIONS:
            counter = house[TRADE_COUNTERPARTS[component]]
        elif row.action in BALANCE_ACTIONS:
            counter = counters.get(row.id, house[Purpose.SUSPENSE])
        else:
            counter = house[Purpose.SUSPENSE]
        client, amount = row.ledger_account_id, abs(delta)
        debit, credit = (counter, client) if delta > 0 else (client, counter)
        requests.append(
            posted(
                posting_key(server_id, row.ticket, component, row.revision),
                debit=debit,
                credit=credit,
                amount=amount,
                currency=row.currency,
                code=f"mt_{component}",
                reference=f"{server_id}:{row.ticket}",
            )
        )
    return requests


async def _command_counters(
    connection: AsyncConnection, server_id: int, rows: Sequence[Any]
) -> dict[int, int]:
    """Deal row id → the ledger account its outbox command named as the money's other side."""
    wanted = {
        command_id: row
        for row in rows
        if row.action in BALANCE_ACTIONS and (command_id := command_id_in(row.comment)) is not None
    }
    if not wanted:
        return {}
    c = COMMANDS.c
    found = await connection.execute(
        select(c.id, c.payload, c.counter_account_id).where(
            c.id.in_(list(wanted)),
            c.server_id == server_id,
            c.kind == CommandKind.BALANCE_OPERATION.value,
            c.counter_account_id.is_not(None),
        )
    )
    counters: dict[int, int] = {}
    for command in found:
        row = wanted[command.id]
        if int(command.payload.get("login", -1)) == row.login:
            counters[row.id] = int(command.counter_account_id)
    return counters

"""Reconciliation: every live login's ledger balance against its server's balance.

Each difference is stored (``mt_reconciliation_difference``) for the back office, never fixed.
A login still trading moves between reading the server and reading the ledger, so a login that
differs is settled once (its new deals synced and posted, its balance read again) before the
difference is recorded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from ledger.chart import Purpose
from ledger.reconciliation import DifferenceKind as LedgerDifferenceKind
from ledger.reconciliation import reconcile
from mt_bridge.accounts import ledger_owner_id
from mt_bridge.connect import PlatformSource
from mt_bridge.deal_posting import post_pending_deals
from mt_bridge.errors import PlatformNotFoundError
from mt_bridge.models import (
    DifferenceKind,
    ReconciliationDifference,
    ReconciliationRun,
    TradingAccount,
    TradingAccountStatus,
)
from mt_bridge.sync import DEFAULT_SYNC_POLICY, SyncPolicy, acquire_lease, pull_deals, release_lease

KIND_FROM_LEDGER = {
    LedgerDifferenceKind.AMOUNT_MISMATCH: DifferenceKind.AMOUNT_MISMATCH,
    LedgerDifferenceKind.MISSING_IN_LEDGER: DifferenceKind.MISSING_IN_LEDGER,
    LedgerDifferenceKind.MISSING_IN_SOURCE: DifferenceKind.MISSING_ON_SERVER,
}


@dataclass(frozen=True)
class ReconciliationOutcome:
    run_id: int
    compared: int
    differences: list[ReconciliationDifference]


async def _server_balances(platforms: PlatformSource, server_id: int, logins: list[int]) -> dict[int, int]:
    platform = await platforms(server_id)
    balances: dict[int, int] = {}
    for login in logins:
        try:
            balances[login] = (await platform.get_account(login)).balance
        except PlatformNotFoundError:
            continue
    return balances


async def _compare(db: Database, accounts: list[TradingAccount], reported: dict[int, int], server_id: int):  # type: ignore[no-untyped-def]
    by_currency: dict[str, dict[str, int]] = defaultdict(dict)
    mine: dict[str, TradingAccount] = {}
    for account in accounts:
        assert account.login is not None
        owner = ledger_owner_id(server_id, account.login)
        mine[owner] = account
        if account.login in reported:
            by_currency[account.currency][owner] = reported[account.login]
    found = []
    for currency in sorted({a.currency for a in accounts}):
        report = await reconcile(
            db,
            source_name=f"mt_server:{server_id}",
            purpose=Purpose.TRADING_ACCOUNT,
            currency=currency,
            reported=by_currency[currency],
        )
        found += [(mine[d.owner_id], d) for d in report.differences if d.owner_id in mine]
    return found


async def reconcile_server(
    db: Database, platforms: PlatformSource, server_id: int, policy: SyncPolicy = DEFAULT_SYNC_POLICY
) -> ReconciliationOutcome:
    """Compare, settle the logins that differ once, and store what still differs."""
    async with db.session() as session:
        accounts = list(
            await session.scalars(
                select(TradingAccount).where(
                    TradingAccount.server_id == server_id,
                    TradingAccount.status == TradingAccountStatus.ACTIVE,
                    TradingAccount.is_demo.is_(False),
                    TradingAccount.login.is_not(None),
                )
            )
        )
    logins = [a.login for a in accounts if a.login is not None]
    reported = await _server_balances(platforms, server_id, logins)
    differences = await _compare(db, accounts, reported, server_id)
    if differences:
        owner = await acquire_lease(db, server_id, policy)
        if owner is not None:
            try:
                await pull_deals(db, platforms, server_id, owner, policy)
            finally:
                await release_lease(db, server_id, owner)
        await post_pending_deals(db, server_id)
        unsettled = [account.login for account, _ in differences if account.login is not None]
        reported.update(await _server_balances(platforms, server_id, unsettled))
        differences = await _compare(db, accounts, reported, server_id)
    async with db.transaction() as session:
        run = ReconciliationRun(
            server_id=server_id, compared=len(accounts), difference_count=len(differences)
        )
        session.add(run)
        await session.flush()
        rows = [
            ReconciliationDifference(
                run_id=run.id,
                server_id=server_id,
                login=account.login,
                currency=account.currency,
                ledger_balance=difference.ledger_balance,
                server_balance=difference.reported_balance,
                kind=KIND_FROM_LEDGER[difference.kind],
            )
            for account, difference in differences
        ]
        session.add_all(rows)
    return ReconciliationOutcome(run.id, len(accounts), rows)


@dataclass(frozen=True)
class LatestRun:
    """A server's most recent reconciliation and what it left unexplained."""

    run: ReconciliationRun
    differences: list[ReconciliationDifference]


async def latest_runs(session: AsyncSession) -> list[LatestRun]:
    """Each server's newest run with its differences: older runs are superseded by it."""
    newest = select(func.max(ReconciliationRun.id)).group_by(ReconciliationRun.server_id)
    runs = list(
        await session.scalars(
            select(ReconciliationRun)
            .where(ReconciliationRun.id.in_(newest))
            .order_by(ReconciliationRun.server_id)
        )
    )
    rows = await session.scalars(
        select(ReconciliationDifference)
        .where(ReconciliationDifference.run_id.in_([run.id for run in runs]))
        .order_by(ReconciliationDifference.server_id, ReconciliationDifference.login)
    )
    by_run: dict[int, list[ReconciliationDifference]] = defaultdict(list)
    for row in rows:
        by_run[row.run_id].append(row)
    return [LatestRun(run, by_run[run.id]) for run in runs]

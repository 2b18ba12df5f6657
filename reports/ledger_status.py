"""The ledger's trial balance and the reconciliation status.

The trial balance is of the ledger's posted counters now, per currency and chart purpose: balanced
books have equal debits and credits in every currency, and equal pending sides. The reconciliation
part shows each trading server's newest comparison of ledger and server balances with what still
differs, and the runs made in the range.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.models import Account
from ledger.reading import trial_balance
from mt_bridge.models import ReconciliationRun, TradingServer
from mt_bridge.reconciliation import latest_runs
from reports.sql import day_label, day_of, dialect_of
from reports.table import Chart, Column, Kind, Report, Row, Table, fill_days
from reports.window import Window


async def trial_balance_rows(session: AsyncSession) -> tuple[list[Row], list[Row]]:
    """(lines per currency and purpose, totals per currency), read through the ledger's own
    :func:`ledger.reading.trial_balance` (only the ledger names its counters)."""
    currencies = sorted(str(c) for c in await session.scalars(select(Account.currency).distinct()))
    lines: list[Row] = []
    totals: list[Row] = []
    for currency in currencies:
        books = await trial_balance(session, currency)
        lines += [
            {
                "currency": currency,
                "purpose": line.purpose,
                "accounts": line.accounts,
                "debits": line.debits,
                "credits": line.credits,
                "net_debit": line.net_debit,
            }
            for line in books.lines
        ]
        totals.append(
            {
                "currency": currency,
                "debits": books.total_debits,
                "credits": books.total_credits,
                "net": books.net,
                "pending_debits": books.pending_debits,
                "pending_credits": books.pending_credits,
                "balanced": "yes" if books.balanced else "no",
            }
        )
    return lines, totals


async def ledger_report(session: AsyncSession, window: Window) -> Report:
    lines, totals = await trial_balance_rows(session)
    servers = {int(s.id): s.name for s in await session.scalars(select(TradingServer))}
    latest = await latest_runs(session)
    status = [
        {
            "server": servers.get(run.run.server_id, str(run.run.server_id)),
            "started_at": run.run.started_at,
            "compared": run.run.compared,
            "differences": len(run.differences),
        }
        for run in latest
    ]
    differences = [
        {
            "server": servers.get(d.server_id, str(d.server_id)),
            "login": d.login,
            "currency": d.currency,
            "ledger_balance": d.ledger_balance,
            "server_balance": d.server_balance,
            "difference": d.server_balance - d.ledger_balance,
            "kind": str(d.kind),
        }
        for run in latest
        for d in run.differences
    ]
    day = day_of(ReconciliationRun.started_at, dialect_of(session))
    runs = [
        {"day": day_label(label), "runs": int(count), "differences": int(found or 0)}
        for label, count, found in await session.execute(
            select(day, func.count(), func.sum(ReconciliationRun.difference_count))
            .where(
                ReconciliationRun.started_at >= window.starts_at,
                ReconciliationRun.started_at < window.ends_at,
            )
            .group_by(day)
        )
    ]
    money = Kind.MONEY
    return Report(
        "ledger",
        "Trial balance and reconciliation",
        "The ledger's posted debits and credits now, and how the ledger agrees with the trading servers.",
        window,
        [
            Table(
                "trial_balance_totals",
                "Trial balance by currency",
                (
                    Column("currency", "Currency"),
                    Column("debits", "Debits", money),
                    Column("credits", "Credits", money),
                    Column("net", "Debits minus credits", money),
                    Column("pending_debits", "Pending debits", money),
                    Column("pending_credits", "Pending credits", money),
                    Column("balanced", "Balanced", Kind.LABEL),
                ),
                totals,
            ),
            Table(
                "trial_balance",
                "Trial balance by purpose",
                (
                    Column("currency", "Currency"),
                    Column("purpose", "Purpose"),
                    Column("accounts", "Accounts", Kind.COUNT),
                    Column("debits", "Debits", money),
                    Column("credits", "Credits", money),
                    Column("net_debit", "Net debit", money),
                ),
                lines,
            ),
            Table(
                "reconciliation",
                "Reconciliation: newest run per server",
                (
                    Column("server", "Server"),
                    Column("started_at", "Run at (UTC)", Kind.MOMENT),
                    Column("compared", "Logins compared", Kind.COUNT),
                    Column("differences", "Differences", Kind.COUNT),
                ),
                status,
            ),
            Table(
                "differences",
                "Differences still open",
                (
                    Column("server", "Server"),
                    Column("login", "Login"),
                    Column("currency", "Currency"),
                    Column("ledger_balance", "Ledger balance", money),
                    Column("server_balance", "Server balance", money),
                    Column("difference", "Server minus ledger", money),
                    Column("kind", "Kind", Kind.LABEL),
                ),
                differences,
            ),
            Table(
                "runs_by_day",
                "Reconciliation runs by day",
                (
                    Column("day", "Day"),
                    Column("runs", "Runs", Kind.COUNT),
                    Column("differences", "Differences", Kind.COUNT),
                ),
                fill_days(window, runs, [], {"runs": 0, "differences": 0}),
                Chart("bar", "day", ("runs", "differences")),
            ),
        ],
    )

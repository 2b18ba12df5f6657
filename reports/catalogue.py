"""Every report by its key, as the back office lists and opens them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from reports.acquisition import acquisition_report
from reports.commissions import commissions_report
from reports.errors import UnknownReportError
from reports.funding import funding_report
from reports.kyc_backlog import kyc_report
from reports.ledger_status import ledger_report
from reports.sql import tune_for_reports
from reports.table import Report
from reports.trading import trading_report
from reports.window import Window

Builder = Callable[[AsyncSession, Window, datetime], Awaitable[Report]]


@dataclass(frozen=True)
class ReportSpec:
    key: str
    title: str
    description: str
    build: Builder


def _windowed(function: Callable[[AsyncSession, Window], Awaitable[Report]]) -> Builder:
    async def build(session: AsyncSession, window: Window, now: datetime) -> Report:
        return await function(session, window)

    return build


REPORTS: dict[str, ReportSpec] = {
    spec.key: spec
    for spec in (
        ReportSpec(
            "funding",
            "Funding",
            "Deposits, withdrawals and net funding by day, method and country.",
            _windowed(funding_report),
        ),
        ReportSpec(
            "acquisition",
            "Client acquisition",
            "Registrations and the funnel registered → verified → funded → traded.",
            _windowed(acquisition_report),
        ),
        ReportSpec(
            "trading",
            "Trading activity",
            "Active traders and volume by symbol group.",
            _windowed(trading_report),
        ),
        ReportSpec(
            "commissions", "IB commissions", "Commission by IB and level.", _windowed(commissions_report)
        ),
        ReportSpec(
            "kyc", "KYC backlog and review times", "Cases waiting now and how long reviews took.", kyc_report
        ),
        ReportSpec(
            "ledger",
            "Trial balance and reconciliation",
            "The ledger's trial balance and the reconciliation status.",
            _windowed(ledger_report),
        ),
    )
}


def spec_of(key: str) -> ReportSpec:
    spec = REPORTS.get(key)
    if spec is None:
        raise UnknownReportError(f"There is no report {key!r}.")
    return spec


async def run_report(session: AsyncSession, key: str, window: Window, now: datetime) -> Report:
    """Build one report; read-only (the caller's session is never written through)."""
    spec = spec_of(key)
    await tune_for_reports(session)
    return await spec.build(session, window, now)

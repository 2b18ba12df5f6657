"""The IB report: per IB, commission lines and amount by period (month or day) and level, for a
date range, with a CSV export (the export is audited, like every export of the back office)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Template

from backoffice.csv_download import csv_response
from backoffice.guards import permission
from backoffice.ib_staff.common import IB_MANAGE, FormError, database, moment, staff_actor, whole
from backoffice.money import money_formatter
from cashier.history import rows_csv
from core.audit.service import record_audit
from core.clock import utcnow
from ib.report import GRANULARITIES, HEADER, ReportRow, commission_report, totals_by_partner


@dataclass(frozen=True)
class ReportQuery:
    start: datetime
    end: datetime
    granularity: str
    partner_id: int | None
    error: str = ""

    def as_params(self) -> dict[str, str]:
        return {
            "from": self.start.date().isoformat(),
            "to": (self.end - timedelta(days=1)).date().isoformat(),
            "by": self.granularity,
            "partner": "" if self.partner_id is None else str(self.partner_id),
        }


def report_query(request: Request[Any, Any, Any]) -> ReportQuery:
    """The filters from the query string; by default this calendar month. ``to`` is inclusive."""
    query = request.query_params
    today = utcnow()
    month_start = datetime(today.year, today.month, 1, tzinfo=UTC)
    start, end = month_start, (month_start + timedelta(days=32)).replace(day=1)
    granularity = query.get("by") if query.get("by") in GRANULARITIES else "month"
    try:
        if query.get("from"):
            start = moment(query.get("from") or "", "start date")
        if query.get("to"):
            end = moment(query.get("to") or "", "end date") + timedelta(days=1)
        partner = whole(query.get("partner") or "", "IB", optional=True)
    except FormError as exc:
        return ReportQuery(month_start, end, str(granularity), None, str(exc))
    if end <= start:
        return ReportQuery(
            start, start + timedelta(days=1), str(granularity), partner, "The end date is before the start."
        )
    return ReportQuery(start, end, str(granularity), partner)


async def report_rows(request: Request[Any, Any, Any], query: ReportQuery) -> list[ReportRow]:
    async with database(request).session() as session:
        return await commission_report(
            session,
            start=query.start,
            end=query.end,
            granularity=query.granularity,
            partner_id=query.partner_id,
        )


class IbReportController(Controller):
    path = "/ib/report"
    include_in_schema = False
    opt = permission(IB_MANAGE)

    @get("/", name="backoffice.ib.report")
    async def report(self, request: Request[Any, Any, Any]) -> Template:
        query = report_query(request)
        rows = await report_rows(request, query)
        context = {
            "query": query,
            "params": query.as_params(),
            "rows": rows,
            "totals": totals_by_partner(rows),
            "granularities": GRANULARITIES,
            "money": await money_formatter(database(request), {row.currency for row in rows}),
            "export": request.url.query or "",
        }
        return Template("ib/report.html", context=context)

    @get("/export.csv", name="backoffice.ib.report.export")
    async def export(self, request: Request[Any, Any, Any]) -> Response[str]:
        query = report_query(request)
        rows = await report_rows(request, query)
        async with database(request).transaction() as session:
            await record_audit(
                session,
                staff_actor(request),
                "ib.report_exported",
                after={**query.as_params(), "rows": len(rows)},
            )
        return csv_response(rows_csv(HEADER, [row.cells() for row in rows]), "ib-commissions")

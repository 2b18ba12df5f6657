"""Reports (permission ``reports.read``): each with a date range, charts, tables and CSV export.

The figures come from :mod:`reports` (read-only queries); this module only reads the range from
the query string, formats and exports. A range that is not valid re-renders the page with the
message and answers 400; nothing is queried then. Every export is audited.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from backoffice.csv_download import csv_response
from backoffice.guards import permission
from core.audit.service import record_audit
from core.clock import utcnow
from core.i18n.catalogs import CORE_LOCALES, Translator
from core.web.auth import actor_for, signed_in
from core.web.state import app_services
from ledger.fx import currency_scales
from reports.catalogue import REPORTS, run_report, spec_of
from reports.errors import InvalidWindowError, UnknownReportError
from reports.table import Report, cell_text, chart_data, csv_text
from reports.window import MAX_DAYS, Window, parse_window

READ_REPORTS = "reports.read"


@lru_cache(maxsize=1)
def page_translator() -> Translator:
    """The back office's catalogs, for chart labels that leave the page as JSON (not through a
    template's ``_``); it follows the request's language like the templates do."""
    from backoffice.app import backoffice_spec

    return Translator([*backoffice_spec().locale_dirs, CORE_LOCALES])


def window_of(request: Request[Any, Any, Any]) -> Window:
    query = request.query_params
    return parse_window(query.get("from"), query.get("to"), utcnow().date())


async def _report(request: Request[Any, Any, Any], key: str, window: Window) -> Report:
    async with app_services(request.app).database.session() as session:
        return await run_report(session, key, window, utcnow())


async def _scales(request: Request[Any, Any, Any], report: Report) -> dict[str, int]:
    """Each currency's scale, for amounts in major units (a currency unknown to the ledger: 2)."""
    async with app_services(request.app).database.session() as session:
        return dict(await currency_scales(session, *sorted(report.currencies)))


def _known(key: str) -> None:
    try:
        spec_of(key)
    except UnknownReportError:
        raise NotFoundException() from None


class ReportsController(Controller):
    path = "/reports"
    include_in_schema = False
    opt = permission(READ_REPORTS)

    @get("/", name="backoffice.reports")
    async def index(self) -> Template:
        return Template("reports/index.html", context={"reports": list(REPORTS.values())})

    @get("/{key:str}", name="backoffice.reports.show")
    async def show(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Template:
        _known(key)
        raw = {"from": request.query_params.get("from", ""), "to": request.query_params.get("to", "")}
        try:
            window = window_of(request)
        except InvalidWindowError as exc:
            context: dict[str, Any] = {
                "spec": spec_of(key),
                "report": None,
                "error": str(exc),
                "error_field": exc.field,
                "raw": raw,
                "max_days": MAX_DAYS,
            }
            return Template("reports/report.html", context=context, status_code=400)
        report = await _report(request, key, window)
        scales = await _scales(request, report)
        context = {
            "spec": spec_of(key),
            "report": report,
            "error": "",
            "error_field": "",
            "raw": window.as_params(),
            "max_days": MAX_DAYS,
            "cell": lambda column, row: cell_text(column, row, scales, grouped=True),
            "charts": {
                table.key: data
                for table in report.tables
                if (data := chart_data(table, scales, page_translator().gettext)) is not None
            },
            "query": f"from={window.first_day.isoformat()}&to={window.last_day.isoformat()}",
        }
        return Template("reports/report.html", context=context)

    @get("/{key:str}/export.csv", name="backoffice.reports.export")
    async def export(self, request: Request[Any, Any, Any], key: FromPath[str]) -> Response[str]:
        _known(key)
        try:
            window = window_of(request)
        except InvalidWindowError as exc:
            return Response(f"{exc.field}: {exc}", media_type="text/plain", status_code=400)
        report = await _report(request, key, window)
        table_key = request.query_params.get("table") or report.tables[0].key
        table = report.table(table_key)
        if table is None:
            return Response(
                f"table: the report has no table {table_key!r}.", media_type="text/plain", status_code=400
            )
        scales = await _scales(request, report)
        async with app_services(request.app).database.transaction() as session:
            await record_audit(
                session,
                actor_for(request, signed_in(request).user),
                "reports.exported",
                target_type="report",
                target_id=f"{key}.{table.key}",
                after={**window.as_params(), "rows": len(table.rows)},
            )
        return csv_response(csv_text(table, scales), f"report-{key}-{table.key}")

"""The audit viewer with filters and CSV export (permission ``audit.read``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Template

from backoffice.guards import permission
from core.audit.service import AuditFilter, events_csv, list_events, record_audit
from core.ids import parse_id
from core.web.auth import actor_for, signed_in
from core.web.state import app_services

PAGE_SIZE = 100
MAX_PAGE = 1_000_000
"""Pages past this show nothing anyway; the cap keeps the offset inside the database's integers."""
EXPORT_LIMIT = 50_000


def _day(raw: str | None) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(raw or ""), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        return None


def filters_from(request: Request[Any, Any, Any]) -> AuditFilter:
    query = request.query_params
    until = _day(query.get("until"))
    return AuditFilter(
        action=(query.get("action") or "").strip()[:64],
        actor=(query.get("actor") or "").strip()[:320],
        target_type=(query.get("target_type") or "").strip()[:64],
        target_id=(query.get("target_id") or "").strip()[:64],
        since=_day(query.get("since")),
        until=until + timedelta(days=1) if until else None,
    )


class AuditController(Controller):
    path = "/audit"
    include_in_schema = False
    opt = permission("audit.read")

    @get("/", name="backoffice.audit")
    async def viewer(self, request: Request[Any, Any, Any]) -> Template:
        filters = filters_from(request)
        raw_page = request.query_params.get("page") or "0"
        page = min(parse_id(raw_page) or 0, MAX_PAGE)
        async with app_services(request.app).database.session() as session:
            events = await list_events(session, filters, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
        context = {
            "events": events[:PAGE_SIZE],
            "has_more": len(events) > PAGE_SIZE,
            "page": page,
            "filters": filters,
            "query": request.url.query or "",
            "raw": dict(request.query_params),
        }
        return Template("audit.html", context=context)

    @get("/export.csv", name="backoffice.audit.export")
    async def export(self, request: Request[Any, Any, Any]) -> Response[str]:
        filters = filters_from(request)
        me = signed_in(request)
        async with app_services(request.app).database.transaction() as session:
            events = await list_events(session, filters, limit=EXPORT_LIMIT)
            await record_audit(
                session,
                actor_for(request, me.user),
                "audit.exported",
                after={"filters": {k: str(v) for k, v in vars(filters).items() if v}, "rows": len(events)},
            )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            events_csv(events),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
        )

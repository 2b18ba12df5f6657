"""The risk alert queue and alert pages (permission ``risk.manage``): filter, assign, resolve.

Controllers only read the request and call :mod:`risk.alerts`, which audits every change; bad input
re-renders the alert page with the error and status 400, and nothing is written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from core import clock
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services
from risk import alerts
from risk.errors import AlertNotFoundError, AlertStateError, InvalidAlertInputError
from risk.models import AlertStatus, Resolution
from risk.rules import RULE_LABELS

PAGE_SIZE = 50
RESOLUTION_LABELS = {
    Resolution.FALSE_POSITIVE.value: "False positive",
    Resolution.CONFIRMED.value: "Confirmed",
    Resolution.ESCALATED.value: "Escalated",
}
STATUS_LABELS = {AlertStatus.OPEN.value: "Open", AlertStatus.RESOLVED.value: "Resolved"}


def _filters(request: Request[Any, Any, Any]) -> alerts.AlertFilter:
    query = request.query_params
    status = query.get("status", AlertStatus.OPEN.value)
    rule = query.get("rule") or ""
    assignee = (query.get("assignee") or "").strip()
    return alerts.AlertFilter(
        status=status if status in STATUS_LABELS else "",
        rule=rule if rule in RULE_LABELS else "",
        assignee=assignee
        if assignee in {alerts.ASSIGNEE_ME, alerts.ASSIGNEE_NONE} or assignee.isdigit()
        else alerts.ASSIGNEE_ANY,
    )


def _page(request: Request[Any, Any, Any]) -> int:
    raw = request.query_params.get("page") or "1"
    return max(1, min(int(raw), 100_000)) if raw.isdigit() else 1


def age_text(seconds: float) -> tuple[int, str]:
    """An age as (number, unit msgid): minutes under an hour, hours under two days, then days."""
    if seconds < 3600:
        return int(seconds // 60), "%(n)s min"
    if seconds < 48 * 3600:
        return int(seconds // 3600), "%(n)s h"
    return int(seconds // 86400), "%(n)s d"


class RiskAlertController(Controller):
    """Risk alerts raised by the scheduled rules."""

    path = "/risk/alerts"
    include_in_schema = False
    opt = permission("risk.manage")

    @get("/", name="backoffice.risk.alerts")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        filters = _filters(request)
        page = _page(request)
        me = signed_in(request)
        async with app_services(request.app).database.session() as session:
            rows = await alerts.list_alerts(
                session, filters, me_id=me.user.id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
            )
            total = await alerts.count_alerts(session, filters, me_id=me.user.id)
            staff = await alerts.assignable_staff(session)
        now = clock.utcnow()
        base = {"status": filters.status, "rule": filters.rule, "assignee": filters.assignee}
        context = {
            "rows": [
                (row, age_text((now - clock.as_utc(row.alert.raised_at)).total_seconds())) for row in rows
            ],
            "filters": filters,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "previous_query": urlencode({**base, "page": page - 1}) if page > 1 else "",
            "next_query": urlencode({**base, "page": page + 1}) if page * PAGE_SIZE < total else "",
            "rules": RULE_LABELS,
            "statuses": STATUS_LABELS,
            "resolutions": RESOLUTION_LABELS,
            "staff": staff,
        }
        return Template("risk/alerts.html", context=context)

    async def _detail_page(
        self,
        request: Request[Any, Any, Any],
        alert_id: int,
        *,
        error: str = "",
        field: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            try:
                detail = await alerts.alert_detail(session, alert_id)
            except AlertNotFoundError:
                raise NotFoundException() from None
            staff = await alerts.assignable_staff(session)
        seconds = (clock.utcnow() - clock.as_utc(detail.alert.raised_at)).total_seconds()
        evidence = {key: value for key, value in detail.alert.evidence.items() if key != "summary_args"}
        context = {
            "detail": detail,
            "alert": detail.alert,
            "age": age_text(seconds),
            "evidence": evidence,
            "summary_args": detail.alert.evidence.get("summary_args", {}),
            "staff": staff,
            "me_id": signed_in(request).user.id,
            "resolutions": RESOLUTION_LABELS,
            "statuses": STATUS_LABELS,
            "error": error,
            "error_field": field,
        }
        return Template("risk/alert.html", context=context, status_code=status_code)

    @get("/{alert_id:int}", name="backoffice.risk.alert")
    async def alert_page(self, request: Request[Any, Any, Any], alert_id: FromPath[int]) -> Template:
        return await self._detail_page(request, alert_id)

    @post("/{alert_id:int}/assign", name="backoffice.risk.alert.assign")
    async def assign(self, request: Request[Any, Any, Any], alert_id: FromPath[int]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        raw = (form.get("assignee") or "").strip()
        if raw == alerts.ASSIGNEE_ME:
            assignee: int | None = me.user.id
        elif raw in {"", alerts.ASSIGNEE_NONE}:
            assignee = None
        elif raw.isdigit():
            assignee = int(raw)
        else:
            return await self._detail_page(
                request,
                alert_id,
                error="Choose a staff member who handles risk alerts.",
                field="assignee",
                status_code=400,
            )
        return await self._change(
            request,
            alert_id,
            lambda session: alerts.assign_alert(session, alert_id, assignee, actor_for(request, me.user)),
            "Alert assigned." if assignee is not None else "Alert unassigned.",
        )

    @post("/{alert_id:int}/resolve", name="backoffice.risk.alert.resolve")
    async def resolve(self, request: Request[Any, Any, Any], alert_id: FromPath[int]) -> Template | Redirect:
        form = await form_fields(request)
        # read whole: form_fields cuts fields at 1000 characters, and a cut comment must be refused
        comment = str((await request.form()).get("comment") or "")
        me = signed_in(request)
        return await self._change(
            request,
            alert_id,
            lambda session: alerts.resolve_alert(
                session,
                alert_id,
                form.get("resolution", ""),
                comment,
                actor_for(request, me.user),
            ),
            "Alert resolved.",
        )

    async def _change(
        self, request: Request[Any, Any, Any], alert_id: int, change: Any, done: str
    ) -> Template | Redirect:
        try:
            async with app_services(request.app).database.transaction() as session:
                await change(session)
        except AlertNotFoundError:
            raise NotFoundException() from None
        except InvalidAlertInputError as exc:
            return await self._detail_page(
                request, alert_id, error=exc.message, field=exc.field, status_code=400
            )
        except AlertStateError as exc:
            return await self._detail_page(request, alert_id, error=str(exc), status_code=409)
        flash(request, done, category="success")
        return Redirect(f"/risk/alerts/{alert_id}", status_code=303)

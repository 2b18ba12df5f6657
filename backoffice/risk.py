"""The risk alert queue and alert pages (permission ``risk.manage``): filter, assign, resolve.

Controllers only read the request and call :mod:`risk.alerts`, which audits every change; bad input
re-renders the alert page with the error and status 400, and nothing is written.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from backoffice.paging import page_links
from core import clock
from core.audit.service import record_audit
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services
from risk import alerts
from risk import config as risk_config
from risk.errors import AlertNotFoundError, AlertStateError, InvalidAlertInputError, InvalidRiskConfigError
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
            **page_links(base, page, total, PAGE_SIZE),
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


THRESHOLD_LABELS = {
    "aml_window_hours": "AML: hours after a deposit in which a withdrawal is looked at",
    "aml_min_lots_centi": "AML: minimum lots traded in between, in hundredths of a lot",
    "aml_min_withdrawal_usd_minor": "AML: smallest withdrawal looked at (USD cents)",
    "shared_ip_min_clients": "Clients from one IP address that raise an alert",
    "shared_device_min_clients": "Clients on one device that raise an alert",
    "shared_lookback_days": "Days of sign-ins counted for IP and device",
    "min_hold_seconds": "Minimum hold time of a trade (seconds)",
    "short_trades_per_day": "Short trades per day on an IB-attributed account that raise an alert",
    "large_deposit_usd_minor": "Large deposit from (USD cents)",
    "large_withdrawal_usd_minor": "Large withdrawal from (USD cents)",
    "first_run_lookback_hours": "Hours a rule looks back on its first run",
    "overlap_minutes": "Minutes each run re-reads before its watermark",
    "settle_minutes": "Minutes a new row waits before the rules judge it",
}


class RiskSettingsController(Controller):
    """The rules' thresholds, stored in ``risk_config`` (permission ``risk.manage``, audited)."""

    path = "/risk/settings"
    include_in_schema = False
    opt = permission("risk.manage")

    @staticmethod
    def _form(values: dict[str, Any], error: InvalidRiskConfigError | None = None) -> Template:
        context = {
            "values": values,
            "labels": THRESHOLD_LABELS,
            "error_field": error.field if error else "",
            "error_label": THRESHOLD_LABELS.get(error.field, error.field) if error else "",
            "error_problem": error.problem if error else "",
        }
        return Template("risk/settings.html", context=context, status_code=400 if error else 200)

    @get("/", name="backoffice.risk.settings")
    async def settings_page(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            current = await risk_config.load_config(session)
        return self._form(asdict(current))

    @post("/", name="backoffice.risk.settings.save")
    async def save(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        values = {name: form.get(name, "") for name in risk_config.FIELD_NAMES}
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                before, after = await risk_config.save_config(session, values, me.user.id)
                changed = {
                    name for name in risk_config.FIELD_NAMES if getattr(before, name) != getattr(after, name)
                }
                if changed:
                    await record_audit(
                        session,
                        actor_for(request, me.user),
                        "risk.thresholds_changed",
                        target_type="risk_config",
                        target_id=risk_config.CONFIG_KEY,
                        before={name: getattr(before, name) for name in changed},
                        after={name: getattr(after, name) for name in changed},
                    )
        except InvalidRiskConfigError as exc:
            return self._form(values, exc)
        flash(request, "Thresholds saved.", category="success")
        return Redirect("/risk/settings", status_code=303)

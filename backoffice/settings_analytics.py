"""Client figures (permission ``settings.analytics``): when a client is a churn risk, and the value
tiers. Saving queues a recompute, so the flags and tiers follow the new thresholds within minutes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from analytics.errors import InvalidAnalyticsSettingError
from analytics.settings import REPORT_CURRENCY, SETTINGS_KEY, TIER_CODES, load_settings, parse_settings
from backoffice.guards import permission
from backoffice.settings_common import version_of
from core.config_store import StaleConfigError, current_version, history, write_setting
from core.jobs import enqueue_after_commit
from core.web.auth import actor_for, signed_in
from core.web.forms import error_text, form_fields
from core.web.state import app_services

RECOMPUTE = "analytics.recompute_client_metrics"


class AnalyticsSettingsController(Controller):
    path = "/settings/analytics"
    include_in_schema = False
    opt = permission("settings.analytics")

    async def _page(
        self,
        request: Request[Any, Any, Any],
        *,
        values: dict[str, str] | None = None,
        error: Any = "",
        error_field: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            current = await load_settings(session)
            version = await current_version(session, SETTINGS_KEY)
            changes = await history(session, SETTINGS_KEY)
        context = {
            "values": {**current.form_values(), **(values or {})},
            "tier_codes": TIER_CODES,
            "currency": REPORT_CURRENCY,
            "version": version,
            "changes": changes,
            "error": error,
            "error_field": error_field,
        }
        return Template("settings/analytics.html", context=context, status_code=status_code)

    @get("/", name="backoffice.settings.analytics")
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/", name="backoffice.settings.analytics.save")
    async def save(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        try:
            chosen = parse_settings(form)
            async with app_services(request.app).database.transaction() as session:
                before = (await load_settings(session)).as_json()
                await write_setting(
                    session,
                    SETTINGS_KEY,
                    chosen.as_json(),
                    actor_for(request, me.user),
                    expected_version=version_of(form),
                    before=before,
                    action="settings.analytics_changed",
                )
                enqueue_after_commit(session, RECOMPUTE)
        except InvalidAnalyticsSettingError as exc:
            return await self._page(
                request, values=form, error=error_text(exc), error_field=exc.field, status_code=400
            )
        except StaleConfigError as exc:
            return await self._page(request, error=error_text(exc), status_code=409)
        flash(
            request,
            "The client figure settings have been saved; the figures are being recomputed.",
            "success",
        )
        return Redirect("/settings/analytics", status_code=303)

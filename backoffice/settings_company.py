"""Company details (permission ``settings.company``): shown in the portal footer and in mails."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from backoffice.settings_common import version_of
from core.company import COMPANY_KEY, LABELS, load_company, parse_company
from core.config_store import InvalidSettingError, StaleConfigError, current_version, history, write_setting
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services


class CompanySettingsController(Controller):
    path = "/settings/company"
    include_in_schema = False
    opt = permission("settings.company")

    async def _page(
        self,
        request: Request[Any, Any, Any],
        *,
        values: dict[str, str] | None = None,
        error: str = "",
        error_field: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            company = await load_company(session)
            version = await current_version(session, COMPANY_KEY)
            changes = await history(session, COMPANY_KEY)
        context = {
            "values": {**company.as_json(), **(values or {})},
            "labels": LABELS,
            "version": version,
            "changes": changes,
            "error": error,
            "error_field": error_field,
        }
        return Template("settings/company.html", context=context, status_code=status_code)

    @get("/", name="backoffice.settings.company")
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/", name="backoffice.settings.company.save")
    async def save(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        try:
            details = parse_company(form)
            async with app_services(request.app).database.transaction() as session:
                before = (await load_company(session)).as_json()
                await write_setting(
                    session,
                    COMPANY_KEY,
                    details.as_json(),
                    actor_for(request, me.user),
                    expected_version=version_of(form),
                    before=before,
                    action="settings.company_changed",
                )
        except InvalidSettingError as exc:
            return await self._page(
                request, values=form, error=str(exc), error_field=exc.field, status_code=400
            )
        except StaleConfigError as exc:
            return await self._page(request, error=str(exc), status_code=409)
        flash(request, "The company details have been saved.", category="success")
        return Redirect("/settings/company", status_code=303)

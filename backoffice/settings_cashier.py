"""The cashier's settings screens, each with its own permission and history:
bank-wire instructions (``settings.bank``), limits (``settings.limits``) and fees (``settings.fees``).

Amounts are typed in major units (``5000.00``) and stored in minor units of each currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission
from backoffice.settings_common import version_of
from cashier.bank_details import BANK_DETAILS_KEY, bank_details_to_json, load_bank_details, parse_bank_details
from cashier.fees import FEES_KEY, METHODS, FeeRule, fee_amount, fees_to_json, load_fees, parse_fees
from cashier.limits import AMOUNT_FIELDS, LABELS, LIMITS_KEY, limits_to_json, load_limits, parse_limits
from core.config_store import InvalidSettingError, StaleConfigError, current_version, history, write_setting
from core.money import MoneyFormat, format_amount
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services
from ledger.fx import currency_scales


async def _scales(request: Request[Any, Any, Any], session: AsyncSession) -> dict[str, int]:
    currencies = app_services(request.app).settings.cashier_currency_list
    return dict(await currency_scales(session, *currencies))


class _CashierSettings(Controller):
    """One JSON document per screen; subclasses say how to load, show, parse and name it."""

    include_in_schema = False
    key = ""
    template = ""
    saved_message = ""
    action = ""

    async def current(self, request: Request[Any, Any, Any], session: AsyncSession) -> dict[str, Any]:
        raise NotImplementedError

    def form_values(self, current: dict[str, Any], scales: Mapping[str, int]) -> dict[str, str]:
        raise NotImplementedError

    def parse(self, form: dict[str, str], scales: Mapping[str, int]) -> dict[str, Any]:
        raise NotImplementedError

    def extra(self) -> dict[str, Any]:
        return {}

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
            scales = await _scales(request, session)
            current = await self.current(request, session)
            version = await current_version(session, self.key)
            changes = await history(session, self.key)
        context = {
            "currencies": list(scales),
            "scales": scales,
            "values": {**self.form_values(current, scales), **(values or {})},
            "current": current,
            "version": version,
            "changes": changes,
            "error": error,
            "error_field": error_field,
            "money": MoneyFormat(scales),
            **self.extra(),
        }
        return Template(self.template, context=context, status_code=status_code)

    async def _save(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                scales = await _scales(request, session)
                document = self.parse(form, scales)
                before = await self.current(request, session)
                await write_setting(
                    session,
                    self.key,
                    document,
                    actor_for(request, me.user),
                    expected_version=version_of(form),
                    before=before,
                    action=self.action,
                )
        except InvalidSettingError as exc:
            return await self._page(
                request, values=form, error=str(exc), error_field=exc.field, status_code=400
            )
        except StaleConfigError as exc:
            return await self._page(request, error=str(exc), status_code=409)
        flash(request, self.saved_message, category="success")
        return Redirect(self.path, status_code=303)


def _amounts(current: dict[str, Any], scales: Mapping[str, int], fields: tuple[str, ...]) -> dict[str, str]:
    return {
        f"{currency}_{name}": format_amount(int(values[name]), scales.get(currency, 2)).replace(",", "")
        for currency, values in current.items()
        for name in fields
    }


class BankDetailsController(_CashierSettings):
    path = "/settings/bank"
    opt = permission("settings.bank")
    key = BANK_DETAILS_KEY
    template = "settings/bank.html"
    saved_message = "The bank details have been saved."
    action = "settings.bank_changed"

    async def current(self, request: Request[Any, Any, Any], session: AsyncSession) -> dict[str, Any]:
        return bank_details_to_json(await load_bank_details(session, app_services(request.app).settings))

    def form_values(self, current: dict[str, Any], scales: Mapping[str, int]) -> dict[str, str]:
        return {
            f"{currency}_{name}": str(value)
            for currency, item in current.items()
            for name, value in item.items()
        }

    def parse(self, form: dict[str, str], scales: Mapping[str, int]) -> dict[str, Any]:
        return bank_details_to_json(parse_bank_details(form, list(scales)))

    @get("/", name="backoffice.settings.bank")
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/", name="backoffice.settings.bank.save")
    async def save(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save(request)


class LimitsController(_CashierSettings):
    path = "/settings/limits"
    opt = permission("settings.limits")
    key = LIMITS_KEY
    template = "settings/limits.html"
    saved_message = "The limits have been saved; they apply to the next request."
    action = "settings.limits_changed"

    async def current(self, request: Request[Any, Any, Any], session: AsyncSession) -> dict[str, Any]:
        return limits_to_json(await load_limits(session, app_services(request.app).settings))

    def form_values(self, current: dict[str, Any], scales: Mapping[str, int]) -> dict[str, str]:
        return _amounts(current, scales, AMOUNT_FIELDS)

    def parse(self, form: dict[str, str], scales: Mapping[str, int]) -> dict[str, Any]:
        return limits_to_json(parse_limits(form, scales))

    def extra(self) -> dict[str, Any]:
        return {"fields": LABELS}

    @get("/", name="backoffice.settings.limits")
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/", name="backoffice.settings.limits.save")
    async def save(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save(request)


def fee_on(rule: Mapping[str, int], amount: int) -> int:
    """The fee a stored rule takes from ``amount`` minor units (the page's worked example)."""
    return fee_amount(FeeRule(int(rule["fixed"]), int(rule["bps"])), amount)


class FeesController(_CashierSettings):
    path = "/settings/fees"
    opt = permission("settings.fees")
    key = FEES_KEY
    template = "settings/fees.html"
    saved_message = "The fees have been saved."
    action = "settings.fees_changed"

    async def current(self, request: Request[Any, Any, Any], session: AsyncSession) -> dict[str, Any]:
        return fees_to_json(await load_fees(session, app_services(request.app).settings))

    def form_values(self, current: dict[str, Any], scales: Mapping[str, int]) -> dict[str, str]:
        values: dict[str, str] = {}
        for currency, rules in current.items():
            for method, rule in rules.items():
                values[f"{currency}_{method}_fixed"] = format_amount(
                    int(rule["fixed"]), scales.get(currency, 2)
                ).replace(",", "")
                values[f"{currency}_{method}_bps"] = str(rule["bps"])
        return values

    def parse(self, form: dict[str, str], scales: Mapping[str, int]) -> dict[str, Any]:
        return fees_to_json(parse_fees(form, scales))

    def extra(self) -> dict[str, Any]:
        return {"methods": METHODS, "fee_on": fee_on}

    @get("/", name="backoffice.settings.fees")
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/", name="backoffice.settings.fees.save")
    async def save(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save(request)

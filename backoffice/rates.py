"""Exchange rates screen: the newest rates and a form to enter one by hand (audited)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from cashier.errors import CashierError
from cashier.rates import enter_rate, parse_rate, recent_rates
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services


class RatesController(Controller):
    path = "/finance/rates"
    include_in_schema = False
    opt = permission("settings.edit")

    @get("/", name="backoffice.finance.rates")
    async def rates(self, request: Request[Any, Any, Any]) -> Template:
        return Template(
            "finance/rates.html", context={"rates": await recent_rates(app_services(request.app).database)}
        )

    @post("/", name="backoffice.finance.rates.enter")
    async def enter(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        db = app_services(request.app).database
        try:
            entry = parse_rate(
                form.get("base", ""), form.get("quote", ""), form.get("rate", ""), form.get("spread", "")
            )
            await enter_rate(db, entry, actor_for(request, signed_in(request).user))
        except CashierError as exc:
            context = {"rates": await recent_rates(db), "error": str(exc), "form": form}
            return Template("finance/rates.html", context=context, status_code=400)
        flash(request, "Rate entered.", category="success")
        return Redirect("/finance/rates", status_code=303)

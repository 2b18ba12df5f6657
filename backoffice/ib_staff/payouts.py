"""Held IB payouts: staff release one (the pending ledger transfer from commission payable to the
IB's wallet is posted) or reject it with a reason (voided: the money goes back to payable)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from backoffice.ib_staff.common import IB_MANAGE, acting, database, required, staff_action
from backoffice.money import money_formatter
from core.web.auth import TOO_MANY, over_money_limit
from core.web.forms import form_fields
from ib import payouts, staff_views

BACK = "/ib/payouts"
STATUSES = ("held", "paid", "rejected")
RELEASED = "Payout released to the IB's wallet."
REJECTED = "Payout rejected; the money is back in the IB's commission payable."


class IbPayoutsController(Controller):
    path = "/ib/payouts"
    include_in_schema = False
    opt = permission(IB_MANAGE)

    @get("/", name="backoffice.ib.payouts")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        status = request.query_params.get("status") or "held"
        status = status if status in STATUSES else "held"
        db = database(request)
        async with db.session() as session:
            rows = list(await staff_views.payouts(session, status))
            clients = await staff_views.client_of_partner(session, [row.partner_id for row in rows])
        context = {
            "rows": rows,
            "status": status,
            "statuses": STATUSES,
            "clients": clients,
            "money": await money_formatter(db, {row.currency for row in rows}),
        }
        return Template("ib/payouts.html", context=context)

    async def _decide(self, request: Request[Any, Any, Any], payout_id: int, *, approve: bool) -> Redirect:
        form = await form_fields(request)
        if await over_money_limit(request, "ib_payout_decision"):
            flash(request, TOO_MANY, category="error")
            return Redirect(BACK, status_code=303)

        async def change() -> None:
            reason = form.get("reason", "").strip()
            why = reason if approve else required(reason, "reason for the rejection")
            with acting(request) as actor:
                await payouts.decide(database(request), payout_id, approve=approve, actor=actor, reason=why)

        return await staff_action(request, change, done=RELEASED if approve else REJECTED, back=BACK)

    @post("/{payout_id:int}/release", name="backoffice.ib.payouts.release")
    async def release(self, request: Request[Any, Any, Any], payout_id: FromPath[int]) -> Redirect:
        return await self._decide(request, payout_id, approve=True)

    @post("/{payout_id:int}/reject", name="backoffice.ib.payouts.reject")
    async def reject(self, request: Request[Any, Any, Any], payout_id: FromPath[int]) -> Redirect:
        return await self._decide(request, payout_id, approve=False)

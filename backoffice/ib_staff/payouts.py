"""IB payouts: staff release a held one (the pending ledger transfer from commission payable to
the IB's wallet is posted) or reject it with a reason (voided: the money goes back to payable),
and set each IB's payout policy (how often, the minimum, whether payouts wait for review)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from backoffice.ib_staff.common import (
    IB_MANAGE,
    acting,
    database,
    required,
    staff_action,
    staff_transaction,
    whole,
)
from backoffice.money import money_formatter
from core.clock import utcnow
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
            policies = list(await staff_views.payout_policies(session))
            partner_ids = [row.partner_id for row in rows] + [policy.partner_id for policy in policies]
            clients = await staff_views.client_of_partner(session, partner_ids)
        context = {
            "rows": rows,
            "status": status,
            "statuses": STATUSES,
            "policies": policies,
            "frequencies": payouts.FREQUENCIES,
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

    @post("/policy", name="backoffice.ib.payouts.policy")
    async def policy(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            partner_id = whole(form.get("partner", ""), "IB")
            minimum = whole(form.get("minimum_amount", "") or "0", "minimum payout", zero=True)
            assert partner_id is not None
            async with staff_transaction(request) as (session, actor):
                await payouts.set_policy(
                    session,
                    partner_id,
                    frequency=form.get("frequency", ""),
                    minimum_amount=minimum or 0,
                    hold_for_review=form.get("hold_for_review") == "1",
                    actor=actor,
                    now=utcnow(),
                )

        return await staff_action(request, change, done="Payout policy saved.", back=BACK)

"""The funding operations as JSON for integrations: the same services, with the ``Idempotency-Key``
header in place of the form's hidden field. Signed-in session (cookie plus CSRF header) required."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.params import JSONBody

from cashier import deposits, withdrawals
from cashier.config import payment_providers
from cashier.errors import CashierError
from cashier.limits import current_limits, current_withdrawal_policy
from cashier.models import DestinationKind
from cashier.wallets import client_wallets
from cashier.withdrawals import Destination
from core.ids import is_id_text
from core.web.api_errors import api_errors
from core.web.auth import actor_for, over_money_limit, requires_sign_in, signed_in
from core.web.state import app_services
from portal.cashier_wiring import KYC_GATES
from portal.funding import parse_money

IDEMPOTENCY_HEADER = "idempotency-key"


def _refusal(exc: CashierError, status_code: int = 400) -> Response[dict[str, Any]]:
    return Response({"status_code": status_code, "detail": str(exc)}, status_code=status_code)


def _limited() -> Response[dict[str, Any]]:
    return Response({"status_code": 429, "detail": "Too many requests."}, status_code=429)


@get("/wallets", name="portal.api.wallets")
async def list_wallets(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """The client's wallets with balances in minor units."""
    wallets = await client_wallets(app_services(request.app).database, signed_in(request).user.id)
    return [
        {
            "currency": w.currency,
            "scale": w.scale,
            "posted": w.balance.posted,
            "reserved": w.balance.pending_out,
            "available": w.balance.available,
        }
        for w in wallets
    ]


@post("/withdrawals", name="portal.api.withdrawals.create", status_code=201, responses=api_errors(429))
async def create_withdrawal(
    request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
) -> Response[dict[str, Any]]:
    """``{"currency": "USD", "amount": "12.34", "destination": "bank:7" | "psp:sandbox"}``."""
    if await over_money_limit(request, "withdraw"):
        return _limited()
    services = app_services(request.app)
    me = signed_in(request)
    kind, _, target = str(data.get("destination", "")).partition(":")
    destination = (
        Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=int(target))
        if kind == "bank" and is_id_text(target)
        else Destination(DestinationKind.PSP, psp=target)
    )
    try:
        currency, amount = await parse_money(
            request, str(data.get("amount", "")), str(data.get("currency", ""))
        )
        withdrawal = await withdrawals.request_withdrawal(
            services.database,
            KYC_GATES,
            await current_withdrawal_policy(services.database, services.settings, currency),
            client_id=me.user.id,
            currency=currency,
            amount=amount,
            destination=destination,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, ""),
            actor=actor_for(request, me.user),
        )
    except CashierError as exc:
        return _refusal(exc)
    body = {
        "id": withdrawal.id,
        "status": withdrawal.status,
        "amount": withdrawal.amount,
        "currency": currency,
    }
    return Response(body, status_code=201)


@post("/deposits", name="portal.api.deposits.create", status_code=201, responses=api_errors(429, 502))
async def create_deposit(
    request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
) -> Response[dict[str, Any]]:
    """``{"currency": "USD", "amount": "100.00"}``: answers the PSP's hosted page to send the client to."""
    if await over_money_limit(request, "deposit"):
        return _limited()
    services = app_services(request.app)
    me = signed_in(request)
    psp = payment_providers(services.settings)["sandbox"]
    base = services.settings.public_portal_url
    try:
        currency, amount = await parse_money(
            request, str(data.get("amount", "")), str(data.get("currency", ""))
        )
        deposit = await deposits.start_psp_deposit(
            services.database,
            psp,
            KYC_GATES,
            client_id=me.user.id,
            currency=currency,
            amount=amount,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, ""),
            actor=actor_for(request, me.user),
            return_url=f"{base}/funding/deposit/return",
            callback_url=f"{base}/cashier/psp/{psp.name}/webhook",
            limits=await current_limits(services.database, services.settings, currency),
        )
    except CashierError as exc:
        return _refusal(exc, 502 if "provider" in str(exc) else 400)
    body = {"id": deposit.id, "status": deposit.status, "hosted_url": deposit.hosted_url}
    return Response(body, status_code=201)


router = Router(
    path="/api/v1/cashier",
    route_handlers=[list_wallets, create_withdrawal, create_deposit],
    guards=[requires_sign_in],
    tags=["cashier"],
)

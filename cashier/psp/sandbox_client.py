"""The :class:`PaymentProvider` that talks to the PSP sandbox over HTTP (see :mod:`cashier.psp.sandbox`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from cashier.errors import PaymentProviderError, WebhookRejectedError
from cashier.psp.base import CreatedPayment, EventType, PaymentEvent, PaymentState, PaymentStatus, Payout
from cashier.psp.signing import SIGNATURE_HEADER, verify
from core.outbound_tls import provider_tls

SANDBOX_PSP = "sandbox"
TIMEOUT_SECONDS = 10.0


def _status(data: Any) -> PaymentStatus:
    try:
        amount = data["amount"]
        if type(amount) is not int:
            raise TypeError("amount must be an integer of minor units")
        return PaymentStatus(
            payment_id=str(data["payment_id"]),
            reference=str(data["reference"]),
            state=PaymentState(data["state"]),
            amount=amount,
            currency=str(data["currency"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WebhookRejectedError(f"malformed payment: {exc}") from None


class SandboxPsp:
    """The demo PSP; in production another class with the same methods talks to a real provider."""

    name = SANDBOX_PSP

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret.encode()

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=TIMEOUT_SECONDS, verify=provider_tls()
            ) as client:
                response = await client.request(method, path, json=payload)
        except httpx.HTTPError as exc:
            raise PaymentProviderError(
                f"the payment provider is unreachable ({type(exc).__name__})"
            ) from None
        if not response.is_success:
            raise PaymentProviderError(f"the payment provider answered {response.status_code}")
        return response.json()

    async def create_payment(
        self, *, reference: str, amount: int, currency: str, return_url: str, callback_url: str
    ) -> CreatedPayment:
        data = await self._call(
            "POST",
            "/v1/payments",
            {
                "reference": reference,
                "amount": amount,
                "currency": currency,
                "return_url": return_url,
                "callback_url": callback_url,
            },
        )
        return CreatedPayment(str(data["payment_id"]), self.hosted_page_url(str(data["payment_id"])))

    def hosted_page_url(self, payment_id: str) -> str:
        return f"{self.base_url}/pay/{payment_id}"

    def parse_webhook(self, headers: dict[str, str], body: bytes, now: datetime) -> PaymentEvent:
        verify(self.secret, headers.get(SIGNATURE_HEADER, ""), body, int(now.timestamp()))
        try:
            data = json.loads(body)
            return PaymentEvent(str(data["event_id"]), EventType(data["type"]), _status(data["payment"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise WebhookRejectedError(f"malformed webhook: {exc}") from None

    async def query_status(self, payment_id: str) -> PaymentStatus:
        return _status(await self._call("GET", f"/v1/payments/{payment_id}"))

    async def refund(self, payment_id: str, amount: int) -> str:
        data = await self._call("POST", f"/v1/payments/{payment_id}/refunds", {"amount": amount})
        return str(data["refund_id"])

    async def payout(self, *, reference: str, amount: int, currency: str, destination: str) -> Payout:
        data = await self._call(
            "POST",
            "/v1/payouts",
            {"reference": reference, "amount": amount, "currency": currency, "destination": destination},
        )
        return Payout(str(data["payout_id"]), PaymentState(data["state"]))

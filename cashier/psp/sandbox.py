"""A loopback payment provider for the demo and the tests: hosted page, status, payouts, webhooks.

* ``POST /v1/payments`` ``{reference, amount, currency, return_url, callback_url}`` opens a payment
  and answers its id; the client pays on ``GET /pay/<id>`` (approve or decline buttons);
* ``POST /v1/payments/<id>/decision`` ``{"decision": "approve"|"decline"}`` decides without the page;
* ``GET /v1/payments/<id>`` answers its status; ``POST /v1/payments/<id>/refunds`` and
  ``POST /v1/payments/<id>/chargeback`` do what they say;
* ``POST /v1/payouts`` pays out, once per ``reference``.

Each decision sends an HMAC-signed webhook to the payment's callback, at least once (retried until
a 2xx), and, like real providers, sometimes twice or late (``duplicate_rate``, ``late_rate``).
It is a plain ASGI app served by uvicorn: the cashier imports no web framework.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from cashier.psp.signing import SIGNATURE_HEADER, sign
from core.outbound_tls import provider_tls

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Any
Send = Any
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

LOOPBACK_PREFIXES = ("http://127.0.0.1", "http://localhost", "http://[::1]")


@dataclass
class SandboxPayment:
    id: str
    reference: str
    amount: int
    currency: str
    return_url: str
    callback_url: str
    state: str = "pending"
    refunded: int = 0
    deliveries: int = 0


@dataclass
class PspSandbox:
    """The provider's state and its ASGI entry point."""

    secret: bytes
    duplicate_rate: float = 0.2
    late_rate: float = 0.2
    late_seconds: float = 3.0
    retry_delays: tuple[float, ...] = (0.2, 1.0, 5.0, 30.0)
    seed: int | None = None
    payments: dict[str, SandboxPayment] = field(default_factory=dict)
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, payload = await self.handle(scope["method"], scope["path"], body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def handle(self, method: str, path: str, body: bytes) -> Answer:
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts == ["v1", "payments"]:
            return self._create(body)
        if method == "POST" and parts == ["v1", "payouts"]:
            return self._payout(body)
        if len(parts) >= 3 and parts[:2] == ["v1", "payments"]:
            payment = self.payments.get(parts[2])
            if payment is None:
                return _json(404, {"error": "no such payment"})
            if method == "GET" and len(parts) == 3:
                return _json(200, _view(payment))
            if method == "POST" and parts[3:] == ["decision"]:
                return self._decide(payment, _form_or_json(body).get("decision", ""), redirect=False)
            if method == "POST" and parts[3:] == ["refunds"]:
                return self._refund(payment, body)
            if method == "POST" and parts[3:] == ["chargeback"]:
                self._send_event(payment, "chargeback.opened")
                return _json(202, {"payment_id": payment.id, "chargeback": "opened"})
        if len(parts) >= 2 and parts[0] == "pay":
            payment = self.payments.get(parts[1])
            if payment is None:
                return 404, [(b"content-type", b"text/html; charset=utf-8")], b"<h1>No such payment</h1>"
            if method == "GET" and len(parts) == 2:
                return self._page(payment)
            if method == "POST" and len(parts) == 3 and parts[2] in {"approve", "decline"}:
                return self._decide(payment, parts[2], redirect=True)
        return _json(404, {"error": "not found"})

    def _create(self, body: bytes) -> Answer:
        try:
            request = json.loads(body)
            amount = request["amount"]
            if type(amount) is not int or amount <= 0:
                raise ValueError("amount")
            payment = SandboxPayment(
                id=f"pay_{secrets.token_hex(8)}",
                reference=str(request["reference"]),
                amount=amount,
                currency=str(request["currency"]),
                return_url=str(request.get("return_url", "")),
                callback_url=str(request["callback_url"]),
            )
        except (ValueError, KeyError, TypeError):
            return _json(400, {"error": "reference, amount (minor units), currency and callback_url needed"})
        if not payment.callback_url.startswith(LOOPBACK_PREFIXES):
            return _json(400, {"error": "the sandbox only calls back to loopback"})
        self.payments[payment.id] = payment
        return _json(201, {"payment_id": payment.id, "hosted_url": f"/pay/{payment.id}"})

    def _page(self, payment: SandboxPayment) -> Answer:
        amount = f"{payment.amount} minor units of {html.escape(payment.currency)}"
        base = f"/pay/{html.escape(payment.id)}"
        page = (
            "<!doctype html><meta charset=utf-8><title>PSP sandbox</title>"
            "<h1>PSP sandbox: hosted payment page</h1>"
            f"<p>Payment {html.escape(payment.id)} for {amount}: "
            f"<strong>{html.escape(payment.state)}</strong></p>"
            f"<form method=post action='{base}/approve'><button>Pay (approve)</button></form>"
            f"<form method=post action='{base}/decline'><button>Decline</button></form>"
        )
        return 200, [(b"content-type", b"text/html; charset=utf-8")], page.encode()

    def _decide(self, payment: SandboxPayment, decision: str, *, redirect: bool) -> Answer:
        if decision not in {"approve", "decline"}:
            return _json(400, {"error": "decision must be approve or decline"})
        if payment.state == "pending":
            payment.state = "succeeded" if decision == "approve" else "declined"
            self._send_event(payment, f"payment.{payment.state}")
        if redirect and payment.return_url:
            return 303, [(b"location", payment.return_url.encode())], b""
        return _json(202, _view(payment))

    def _refund(self, payment: SandboxPayment, body: bytes) -> Answer:
        amount = _form_or_json(body).get("amount")
        if type(amount) is not int or not 0 < amount <= payment.amount - payment.refunded:
            return _json(400, {"error": "refund amount out of range"})
        payment.refunded += amount
        return _json(201, {"refund_id": f"ref_{secrets.token_hex(6)}", "payment_id": payment.id})

    def _payout(self, body: bytes) -> Answer:
        request = _form_or_json(body)
        reference = str(request.get("reference", ""))
        amount = request.get("amount")
        if not reference or type(amount) is not int or amount <= 0:
            return _json(400, {"error": "reference and amount (minor units) needed"})
        if reference not in self.payouts:
            self.payouts[reference] = {
                "payout_id": f"po_{secrets.token_hex(8)}",
                "reference": reference,
                "amount": amount,
                "currency": request.get("currency"),
                "destination": request.get("destination"),
                "state": "succeeded",
            }
        return _json(201, self.payouts[reference])

    def webhook(
        self, payment: SandboxPayment, event_type: str, *, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The signed webhook as the provider sends it (tests replay and tamper with it)."""
        body = json.dumps(
            {"event_id": f"evt_{payment.id}_{event_type}", "type": event_type, "payment": _view(payment)}
        ).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        return {SIGNATURE_HEADER: sign(self.secret, stamp, body), "content-type": "application/json"}, body

    def _send_event(self, payment: SandboxPayment, event_type: str) -> None:
        copies = 2 if self._random.random() < self.duplicate_rate else 1
        late = self._random.random() < self.late_rate
        for copy in range(copies):
            delay = self.late_seconds if late and copy == 0 else 0.0
            task = asyncio.get_running_loop().create_task(self.deliver(payment, event_type, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def deliver(self, payment: SandboxPayment, event_type: str, first_delay: float = 0.0) -> None:
        """Send until the receiver answers 2xx, with growing delays: at least once."""
        async with httpx.AsyncClient(timeout=5, verify=provider_tls()) as client:
            for delay in (first_delay, *self.retry_delays):
                await asyncio.sleep(delay)
                headers, body = self.webhook(payment, event_type)
                payment.deliveries += 1
                try:
                    response = await client.post(payment.callback_url, content=body, headers=headers)
                    if response.is_success:
                        return
                    logger.warning("PSP webhook answered %s; retrying", response.status_code)
                except httpx.HTTPError as exc:
                    logger.warning("PSP webhook failed (%s); retrying", type(exc).__name__)

    async def drain(self) -> None:
        """Wait for every delivery in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _view(payment: SandboxPayment) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "reference": payment.reference,
        "state": payment.state,
        "amount": payment.amount,
        "currency": payment.currency,
    }


def _form_or_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}


def _json(status: int, payload: dict[str, Any]) -> Answer:
    return status, [(b"content-type", b"application/json")], json.dumps(payload).encode()

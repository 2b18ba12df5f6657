"""A loopback verification vendor for the demo and the tests, in the style of Sumsub-like vendors.

``POST /v1/applicants`` with ``{"client_id", "callback_url"}`` opens an applicant and answers with
its hosted page. On that page (or through ``POST /v1/applicants/<id>/decision`` with ``{"verdict":
"green"|"red", "reason"}``) the vendor decides, then sends an HMAC-signed webhook to the callback,
at least once: deliveries are retried until the receiver answers 2xx.

It is a plain ASGI app served by uvicorn; the domain packages import no web framework.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from core.outbound_tls import provider_tls
from kyc.providers import SIGNATURE_HEADER, sign

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Any
Send = Any


@dataclass
class Applicant:
    id: str
    client_id: int
    callback_url: str
    verdict: str | None = None
    reason: str | None = None
    deliveries: int = 0


@dataclass
class KycSandbox:
    """The vendor's state and its ASGI entry point."""

    secret: bytes
    retry_delays: tuple[float, ...] = (0.2, 1.0, 5.0, 30.0)
    applicants: dict[str, Applicant] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

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
        status, content_type, payload = await self.handle(scope["method"], scope["path"], body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type.encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts == ["v1", "applicants"]:
            return self._create(body)
        if len(parts) == 2 and parts[0] == "applicants" and method == "GET":
            return self._page(parts[1])
        is_decision = len(parts) == 4 and parts[:2] == ["v1", "applicants"] and parts[3] == "decision"
        if is_decision and method == "POST":
            return self._decide(parts[2], body)
        return _json(404, {"error": "not found"})

    def _create(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            request = json.loads(body)
            client_id, callback_url = int(request["client_id"]), str(request["callback_url"])
        except (ValueError, KeyError, TypeError):
            return _json(400, {"error": "client_id and callback_url are required"})
        if not callback_url.startswith(("http://127.0.0.1", "http://localhost")):
            return _json(400, {"error": "the sandbox only calls back to loopback"})
        applicant = Applicant(id=secrets.token_hex(8), client_id=client_id, callback_url=callback_url)
        self.applicants[applicant.id] = applicant
        return _json(201, {"applicant_id": applicant.id, "hosted_page": f"/applicants/{applicant.id}"})

    def _page(self, applicant_id: str) -> tuple[int, str, bytes]:
        applicant = self.applicants.get(applicant_id)
        if applicant is None:
            return 404, "text/html; charset=utf-8", b"<h1>No such applicant</h1>"
        state = html.escape(applicant.verdict or "waiting for a decision")
        action = f"/v1/applicants/{html.escape(applicant.id)}/decision"
        page = (
            "<!doctype html><meta charset=utf-8><title>KYC sandbox</title>"
            f"<h1>KYC sandbox vendor</h1><p>Applicant {html.escape(applicant.id)} "
            f"(client {applicant.client_id}): <strong>{state}</strong></p>"
            f"<form method=post action='{action}'><input type=hidden name=verdict value=green>"
            "<button>Verify (green)</button></form>"
            f"<form method=post action='{action}'><input type=hidden name=verdict value=red>"
            "<input name=reason value='Document looks altered'><button>Reject (red)</button></form>"
        )
        return 200, "text/html; charset=utf-8", page.encode()

    def _decide(self, applicant_id: str, body: bytes) -> tuple[int, str, bytes]:
        applicant = self.applicants.get(applicant_id)
        if applicant is None:
            return _json(404, {"error": "no such applicant"})
        try:
            request = json.loads(body)
        except ValueError:
            request = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        verdict = request.get("verdict")
        if verdict not in {"green", "red"}:
            return _json(400, {"error": "verdict must be green or red"})
        applicant.verdict, applicant.reason = verdict, request.get("reason")
        task = asyncio.get_running_loop().create_task(self.deliver(applicant))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return _json(202, {"applicant_id": applicant.id, "verdict": verdict})

    def webhook(self, applicant: Applicant, event_id: str | None = None) -> tuple[dict[str, str], bytes]:
        """The signed webhook for the applicant's verdict, as the vendor sends it."""
        body = json.dumps(
            {
                "event_id": event_id or f"{applicant.id}-{applicant.verdict}",
                "client_id": applicant.client_id,
                "verdict": applicant.verdict,
                "reason": applicant.reason,
            }
        ).encode()
        return {
            SIGNATURE_HEADER: sign(self.secret, int(time.time()), body),
            "content-type": "application/json",
        }, body

    async def deliver(self, applicant: Applicant) -> None:
        """Send until the receiver answers 2xx, with growing delays: at least once, maybe more."""
        headers, body = self.webhook(applicant)
        async with httpx.AsyncClient(timeout=5, verify=provider_tls()) as client:
            for delay in (0.0, *self.retry_delays):
                await asyncio.sleep(delay)
                applicant.deliveries += 1
                try:
                    response = await client.post(applicant.callback_url, content=body, headers=headers)
                    if response.is_success:
                        return
                    logger.warning("KYC webhook answered %s; retrying", response.status_code)
                except httpx.HTTPError as exc:
                    logger.warning("KYC webhook failed (%s); retrying", type(exc).__name__)


def _json(status: int, payload: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()

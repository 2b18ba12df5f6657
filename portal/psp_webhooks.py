"""Where payment providers post their webhooks: no session, no CSRF; the HMAC signature is the proof.

The handler only passes the raw body and headers to :func:`cashier.deposits.receive_webhook`, which
verifies, deduplicates, applies and logs. A refusal answers 4xx so the provider's dashboard shows it.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.params import FromPath

from cashier import deposits
from cashier.config import payment_providers
from core.clock import utcnow
from core.web.auth import client_of
from core.web.state import app_services

WEBHOOKS_PER_MINUTE_PER_IP = 600


class PspWebhookController(Controller):
    path = "/cashier/psp"
    include_in_schema = False

    @post(
        "/{psp_name:str}/webhook", name="portal.psp_webhook", opt={"exclude_from_csrf": True}, status_code=200
    )
    async def webhook(
        self, request: Request[Any, Any, Any], psp_name: FromPath[str]
    ) -> Response[dict[str, str]]:
        services = app_services(request.app)
        psp = payment_providers(services.settings).get(psp_name)
        if psp is None:
            return Response({"error": "unknown payment provider"}, status_code=404)
        window = await services.rate_limiter.hit(f"cashier:webhook:{client_of(request).ip}", 60)
        if window.count > WEBHOOKS_PER_MINUTE_PER_IP:
            return Response({"error": "rate limited"}, status_code=429)
        headers = {key.lower(): value for key, value in request.headers.items()}
        answer = await deposits.receive_webhook(
            services.database, psp, headers, await request.body(), utcnow()
        )
        return Response({"outcome": answer.outcome}, status_code=answer.status_code)

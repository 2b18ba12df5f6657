"""Webhooks from the verification vendor: no session, no CSRF token, trusted only by signature.

A bad or stale signature and a replayed event are refused with 400 and change nothing. A valid
event about a case that no longer waits for a decision is acknowledged (200), so the vendor stops
retrying, and recorded so that its replay is refused too.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.exceptions import NotFoundException

from core import clock
from core.audit.service import Actor, record_audit
from core.mail.outbox import queue_mail
from core.web.state import app_services
from kyc import review
from kyc.errors import ReviewError, WebhookRejectedError
from kyc.notifications import notify_case_decision
from kyc.providers import WEBHOOK_PATH, SandboxProvider, record_event_once


class KycWebhookController(Controller):
    include_in_schema = False

    @post(WEBHOOK_PATH, name="portal.kyc.webhook.sandbox", opt={"exclude_from_csrf": True}, status_code=200)
    async def sandbox(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        services = app_services(request.app)
        secret = services.settings.kyc_sandbox_secret
        if not secret:
            raise NotFoundException()
        body = await request.body()
        now = clock.utcnow()
        try:
            verdict = SandboxProvider(secret.encode()).parse_webhook(dict(request.headers), body, now)
            async with services.database.transaction() as session:
                await record_event_once(session, verdict)
                outcome = "applied"
                try:
                    async with session.begin_nested():
                        before = await review.case_for(session, verdict.client_id)
                        status_before = before.status.value
                        case = await review.apply_provider_verdict(
                            session, verdict.client_id, verdict.verdict, verdict.reason, now
                        )
                except ReviewError:
                    outcome = "ignored"
                if outcome == "applied":
                    await record_audit(
                        session,
                        Actor(
                            id=None,
                            email="sandbox",
                            kind="provider",
                            ip=request.client.host if request.client else "",
                        ),
                        f"kyc.provider_{verdict.verdict}",
                        target_type="kyc_case",
                        target_id=verdict.client_id,
                        before={"status": status_before},
                        after={
                            "status": case.status.value,
                            "level": case.level.value,
                            "event": verdict.event_id,
                        },
                    )
                    await notify_case_decision(
                        session, case, services.settings.public_portal_url, queue_mail=queue_mail
                    )
        except WebhookRejectedError as exc:
            return Response({"status": "rejected", "detail": str(exc)}, status_code=400)
        return Response({"status": outcome})

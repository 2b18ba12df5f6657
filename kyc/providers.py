"""Verification vendors behind one interface: the manual provider (staff review in the back
office) and a sandbox vendor that answers with HMAC-signed webhooks, as Sumsub-style vendors do.

A webhook is trusted only with a valid signature over its timestamp and body, a timestamp within
the tolerance, and an event id never seen before; a replay changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.outbound_tls import provider_tls
from kyc.errors import ProviderUnavailableError, WebhookRejectedError
from kyc.models import KycProviderEvent

SIGNATURE_HEADER = "x-kyc-signature"
TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class ProviderVerdict:
    """A vendor's answer about one client: ``green`` (verified) or ``red`` (rejected)."""

    provider: str
    event_id: str
    client_id: int
    verdict: str
    reason: str | None


class KycProvider(Protocol):
    name: str

    def parse_webhook(self, headers: dict[str, str], body: bytes, now: datetime) -> ProviderVerdict:
        """Verify and parse a webhook, or raise :class:`WebhookRejectedError`."""
        ...


class ManualProvider:
    """Compliance staff review every case in the back office; there are no webhooks."""

    name = "manual"

    def parse_webhook(self, headers: dict[str, str], body: bytes, now: datetime) -> ProviderVerdict:
        raise WebhookRejectedError("the manual provider takes no webhooks")


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class SandboxProvider:
    """The loopback sandbox vendor; its webhooks carry ``t=<unix time>,v1=<hex HMAC-SHA256>``."""

    name = "sandbox"

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def parse_webhook(self, headers: dict[str, str], body: bytes, now: datetime) -> ProviderVerdict:
        header = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            timestamp = int(parts["t"])
            expected = sign(self.secret, timestamp, body).split("v1=", 1)[1]
        except (KeyError, ValueError):
            raise WebhookRejectedError("missing or malformed signature") from None
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise WebhookRejectedError("bad signature")
        if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
            raise WebhookRejectedError("stale timestamp")
        try:
            payload = json.loads(body)
            verdict = str(payload["verdict"])
            if verdict not in {"green", "red"}:
                raise ValueError(verdict)
            return ProviderVerdict(
                self.name, str(payload["event_id"]), int(payload["client_id"]), verdict, payload.get("reason")
            )
        except (ValueError, KeyError, TypeError):
            raise WebhookRejectedError("malformed payload") from None


async def record_event_once(session: AsyncSession, verdict: ProviderVerdict) -> None:
    """Remember the event; a second delivery of the same event id is refused as a replay."""
    try:
        async with session.begin_nested():
            session.add(
                KycProviderEvent(
                    provider=verdict.provider,
                    event_id=verdict.event_id,
                    client_id=verdict.client_id,
                    verdict=verdict.verdict,
                )
            )
    except IntegrityError:
        raise WebhookRejectedError("event already processed (replay)") from None


WEBHOOK_PATH = "/webhooks/kyc/sandbox"


async def open_sandbox_applicant(base_url: str, client_id: int, callback_url: str) -> str:
    """Open an applicant at the sandbox vendor; returns the URL of its hosted page for the client.

    No database transaction is open while this waits on the network."""
    base = base_url.rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=5, verify=provider_tls()) as client:
            response = await client.post(
                f"{base}/v1/applicants", json={"client_id": client_id, "callback_url": callback_url}
            )
        response.raise_for_status()
        page = str(response.json()["hosted_page"])
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ProviderUnavailableError(f"the verification provider answered {type(exc).__name__}") from None
    if not page.startswith("/"):
        raise ProviderUnavailableError("the verification provider sent an unexpected page address")
    return base + page

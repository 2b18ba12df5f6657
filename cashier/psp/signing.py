"""HMAC-SHA256 webhook signatures over ``timestamp.body``, checked in constant time with a tolerance."""

from __future__ import annotations

import hashlib
import hmac

from cashier.errors import WebhookRejectedError

SIGNATURE_HEADER = "x-psp-signature"
TOLERANCE_SECONDS = 300
"""A delivery signed longer ago than this (or in the future) is a replay, refused."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes, now_timestamp: int) -> None:
    """Raise :class:`WebhookRejectedError` unless ``header`` signs ``body`` recently with ``secret``."""
    parts = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    raw_timestamp, given = parts.get("t", ""), parts.get("v1", "")
    if not raw_timestamp.isdigit() or not given:
        raise WebhookRejectedError("missing or malformed signature")
    expected = sign(secret, int(raw_timestamp), body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise WebhookRejectedError("bad signature")
    if abs(now_timestamp - int(raw_timestamp)) > TOLERANCE_SECONDS:
        raise WebhookRejectedError("stale signature (replayed webhook)")

"""How a delivery is signed, and how a receiver checks it (docs/webhooks.md says the same).

The signature is HMAC-SHA256, keyed with the endpoint's secret, over ``"<timestamp>.<body>"``: the
timestamp (Unix seconds, in its own header) is signed with the body, so a captured request can't
be replayed later with a fresh timestamp, and a receiver refuses timestamps too far from its clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

EVENT_ID_HEADER = "BrokerDesk-Event-Id"
"""The event's id (``evt_…``): the same on every attempt and replay, so receivers dedupe on it."""
EVENT_KIND_HEADER = "BrokerDesk-Event-Kind"
TIMESTAMP_HEADER = "BrokerDesk-Timestamp"
SIGNATURE_HEADER = "BrokerDesk-Signature"
"""``v1=<hex digest>``; ``v1`` names this scheme so another can be added beside it."""
ATTEMPT_HEADER = "BrokerDesk-Delivery-Attempt"
SCHEME = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that names what follows, not a secret
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe, with a prefix that says what it is."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def event_body(uid: str, kind: str, occurred_at: str, data: dict[str, Any]) -> bytes:
    """The JSON body of an event, byte-for-byte the same on every attempt."""
    document = {"id": uid, "kind": kind, "occurred_at": occurred_at, "data": data}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: str,
    timestamp_header: str,
    signature_header: str,
    body: bytes,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the timestamp is a whole number near ``now`` and one of the header's
    ``v1=`` values matches, compared in constant time."""
    if not timestamp_header.isascii() or not timestamp_header.isdigit():
        return False
    timestamp = int(timestamp_header)
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    offered = [part.strip() for part in signature_header.split(",")]
    return any(hmac.compare_digest(expected, part) for part in offered)

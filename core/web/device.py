"""A long-lived, random, HttpOnly device cookie, so risk rules can tell one browser from another.

Apps that want it (the portal) add :class:`DeviceCookieMiddleware`. Sign-in and registration call
:func:`ensure_device`: a browser without a valid cookie gets a new random id on that response, and
only the id's SHA-256 is stored (on the sign-in session), never the id itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.web.state import app_services

DEVICE_COOKIE = "bd_device"
DEVICE_MAX_AGE = 400 * 24 * 3600
"""About 13 months: the longest lifetime browsers accept for a cookie."""
ENABLED_KEY = "brokerdesk.device_cookie"
NEW_DEVICE_KEY = "brokerdesk.new_device"
VALID_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def device_hash_of(device_id: str) -> str:
    return hashlib.sha256(device_id.encode()).hexdigest()


def ensure_device(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The SHA-256 of this browser's device id, issuing a new id (set on this response) when it
    has none; ``None`` in an app without the device cookie (the back office)."""
    state = connection.scope.get("state")
    if not isinstance(state, dict) or not state.get(ENABLED_KEY):
        return None
    device_id = connection.cookies.get(DEVICE_COOKIE, "")
    if not VALID_ID.match(device_id):
        device_id = state.get(NEW_DEVICE_KEY) or secrets.token_urlsafe(32)
        state[NEW_DEVICE_KEY] = device_id
    return device_hash_of(device_id)


class DeviceCookieMiddleware:
    """Turns :func:`ensure_device` on for the app and sets the cookie it issued on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state[ENABLED_KEY] = True
        secure = app_services(scope["app"]).settings.is_production

        async def send_with_cookie(message: Message) -> None:
            device_id = state.get(NEW_DEVICE_KEY)
            if message["type"] == "http.response.start" and device_id:
                cookie = (
                    f"{DEVICE_COOKIE}={device_id}; Max-Age={DEVICE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
                )
                MutableScopeHeaders.from_message(message).add(
                    "set-cookie", cookie + ("; Secure" if secure else "")
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

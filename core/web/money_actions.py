"""What every form or API call that moves money carries, in either app: a rate limit per signed-in
user and a fresh idempotency key rendered into the form, so a double submit makes one request."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request

from core.web.auth import signed_in
from core.web.state import app_services

MONEY_ACTIONS_PER_MINUTE = 10
TOO_MANY = "Too many requests. Please wait a minute and try again."


def new_idempotency_key() -> str:
    """The hidden field a money form carries, so a double submit or a retry makes one request."""
    return secrets.token_urlsafe(24)


async def over_money_limit(request: Request[Any, Any, Any], action: str) -> bool:
    """Count one ``action`` (``"withdraw"``, ``"ib_payout"``…) of the signed-in user; True past the limit."""
    me = signed_in(request)
    window = await app_services(request.app).rate_limiter.hit(f"cashier:{action}:{me.user.id}", 60)
    return window.count > MONEY_ACTIONS_PER_MINUTE

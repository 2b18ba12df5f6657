"""Reading urlencoded forms in controllers, and the idempotency key a money form carries."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request

MAX_FIELD = 1000


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Single-valued fields, stripped of the CSRF token and cut to a sane length."""
    form = await request.form()
    return {key: str(value)[:MAX_FIELD] for key, value in form.items() if key != "_csrf_token"}


async def form_list(request: Request[Any, Any, Any], name: str) -> list[str]:
    """Every value of a repeated field (checkboxes)."""
    form = await request.form()
    return [str(value)[:MAX_FIELD] for value in form.getall(name, [])]


def new_idempotency_key() -> str:
    """The hidden field a money form carries, so a double submit or a retry makes one request."""
    return secrets.token_urlsafe(24)

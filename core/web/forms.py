"""Reading urlencoded forms in controllers."""

from __future__ import annotations

from typing import Any

from litestar import Request
from markupsafe import Markup, escape

MAX_FIELD = 1000


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Single-valued fields, stripped of the CSRF token and of NUL characters (which no one types
    and PostgreSQL refuses to store), cut to a sane length."""
    form = await request.form()
    return {key: _text(value) for key, value in form.items() if key != "_csrf_token"}


async def form_list(request: Request[Any, Any, Any], name: str) -> list[str]:
    """Every value of a repeated field (checkboxes)."""
    form = await request.form()
    return [_text(value) for value in form.getall(name, [])]


def _text(value: object) -> str:
    return str(value).replace("\x00", "")[:MAX_FIELD]


def error_text(exc: Exception) -> Markup:
    """A refusal's message for a page, escaped. Templates show errors through gettext, which takes
    its text as safe markup, and a message may quote what the person typed."""
    return escape(str(exc))

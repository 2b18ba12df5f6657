"""What every IB staff page shares: the permission, reading dates and ids from forms, and running
an IB service as the signed-in staff member with its refusal shown as a message.

An IB service refuses bad input with an :class:`~ib.errors.IbError` before it writes anything, and
the transaction it ran in is rolled back, so a refused change leaves everything as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import UTC, date, datetime, time
from typing import Any

from litestar import Request
from litestar.plugins.flash import flash
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor
from core.db import Database
from core.ids import is_id_text
from core.web.auth import actor_for, signed_in
from core.web.state import app_services
from ib.audit import acting_as
from ib.errors import IbError

IB_MANAGE = "ib.manage"


class FormError(ValueError):
    """Raised when a staff form field can't be read (a date, an id); the message says which."""


def staff_actor(request: Request[Any, Any, Any]) -> Actor:
    return actor_for(request, signed_in(request).user)


def database(request: Request[Any, Any, Any]) -> Database:
    return app_services(request.app).database


def moment(raw: str, what: str) -> datetime:
    """A form's date (``2026-11-02``, midnight UTC) or date and time (``2026-11-02T10:30``, UTC)."""
    text = raw.strip()
    if not text:
        raise FormError(f"Give the {what}.")
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(f"The {what} must be a date like 2026-11-02 (UTC), not {text!r}.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def whole(raw: str, what: str, *, optional: bool = False, zero: bool = False) -> int | None:
    """A positive whole number (an id) from a form field, or zero when ``zero`` allows it; empty is
    ``None`` only when ``optional``."""
    text = raw.strip().lstrip("#")
    if not text and optional:
        return None
    if not is_id_text(text) or (int(text) == 0 and not zero):
        raise FormError(f"The {what} must be a whole number.")
    return int(text)


def an_id(raw: str, what: str) -> int:
    """A form's required id: :func:`whole`, never ``None``."""
    value = whole(raw, what)
    assert value is not None
    return value


def required(raw: str, what: str) -> str:
    text = raw.strip()
    if not text:
        raise FormError(f"Give a {what}.")
    return text[:500]


def acting(request: Request[Any, Any, Any]) -> AbstractContextManager[str]:
    """IB services called inside act as the signed-in staff member, whose label this yields."""
    return acting_as(staff_actor(request))


@asynccontextmanager
async def staff_transaction(request: Request[Any, Any, Any]) -> AsyncIterator[tuple[AsyncSession, str]]:
    """A transaction in which IB services act as the signed-in staff member (the yielded label)."""
    with acting(request) as label:
        async with database(request).transaction() as session:
            yield session, label


async def staff_action(
    request: Request[Any, Any, Any], change: Callable[[], Awaitable[object]], *, done: str, back: str
) -> Redirect:
    """Run ``change()``, then go back to ``back`` showing ``done`` or why it was refused."""
    try:
        await change()
    except (IbError, FormError) as exc:
        flash(request, str(exc), category="error")
    else:
        flash(request, done, category="success")
    return Redirect(back, status_code=303)

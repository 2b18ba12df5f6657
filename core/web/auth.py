"""Signing people in and out of an app, shared by the portal and the back office.

The server-side session holds either ``auth`` (the id of a :class:`LoginSession` row: fully
signed in) or ``pending`` (password accepted, second factor or TOTP enrolment still to do).
Guards load the signed-in user once per request into ``request.state``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from core.audit.service import Actor
from core.identity.models import LoginSession, User
from core.identity.sessions import Client, active_login, open_login_session
from core.identity.throttle import Throttle
from core.web.device import ensure_device
from core.web.errors import wants_json
from core.web.language import safe_next
from core.web.sessions import rotate_session_id
from core.web.state import app_services

AUTH_KEY = "auth"
PENDING_KEY = "pending"
PENDING_SECONDS = 10 * 60
"""How long a half-finished sign-in (password accepted, code not yet given) stays usable."""
STATE_USER = "user"
STATE_LOGIN = "login_session"
STAGE_TOTP = "totp"
STAGE_ENROL = "enrol"


class SignInRequiredError(HTTPException):
    """Raised by guards when nobody is signed in; pages redirect to the sign-in form."""

    status_code = 401
    detail = "Please sign in"


@dataclass(frozen=True)
class SignedIn:
    """The user of this request and their session row, detached from any database session."""

    user: User
    login: LoginSession


def client_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Client:
    host = connection.client.host if connection.client else ""
    return Client(ip=host, user_agent=connection.headers.get("user-agent", ""))


def actor_for(connection: ASGIConnection[Any, Any, Any, Any], user: User | None) -> Actor:
    client = client_of(connection)
    if user is None:
        return Actor(id=None, email="", kind="anonymous", ip=client.ip, user_agent=client.user_agent)
    return Actor(id=user.id, email=user.email, kind=user.kind, ip=client.ip, user_agent=client.user_agent)


MONEY_ACTIONS_PER_MINUTE = 10
TOO_MANY = "Too many requests. Please wait a minute and try again."


async def over_action_limit(connection: ASGIConnection[Any, Any, Any, Any], action: str) -> bool:
    """Whether the signed-in person has made more than ``MONEY_ACTIONS_PER_MINUTE`` requests of
    ``action`` this minute: money actions and other actions that write for someone else to read
    (opening a support ticket) are rate-limited per person."""
    me = await load_signed_in(connection)
    window = await app_services(connection.app).rate_limiter.hit(f"{action}:{me.user.id}", 60)
    return window.count > MONEY_ACTIONS_PER_MINUTE


async def over_money_limit(connection: ASGIConnection[Any, Any, Any, Any], action: str) -> bool:
    """:func:`over_action_limit` for a money action (a deposit, a payout release …)."""
    return await over_action_limit(connection, f"cashier:{action}")


def new_idempotency_key() -> str:
    """The hidden field a money form carries, so a double submit or a retry makes one request."""
    return secrets.token_urlsafe(24)


def throttle_for(connection: ASGIConnection[Any, Any, Any, Any]) -> Throttle:
    services = app_services(connection.app)
    return Throttle(services.rate_limiter, services.settings)


async def load_signed_in(connection: ASGIConnection[Any, Any, Any, Any]) -> SignedIn:
    """The signed-in user of this request, or :class:`SignInRequiredError`.

    A revoked, idle or too old session is cleared, so the browser starts over at sign-in.
    """
    cached = connection.state.get(STATE_USER)
    if isinstance(cached, SignedIn):
        return cached
    login_id = connection.session.get(AUTH_KEY) if "session" in connection.scope else None
    if not isinstance(login_id, str):
        raise SignInRequiredError()
    services = app_services(connection.app)
    found = await services.database.autocommit_read(  # every page asks: one round trip
        lambda session: active_login(session, services.settings, login_id, services.name)
    )
    if found is None:
        connection.scope["session"] = {}
        raise SignInRequiredError()
    signed_in = SignedIn(user=found[1], login=found[0])
    connection.state[STATE_USER] = signed_in
    return signed_in


async def requires_sign_in(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard: someone must be fully signed in (password and, where required, second factor)."""
    await load_signed_in(connection)


def signed_in(request: Request[Any, Any, Any]) -> SignedIn:
    """What the guard loaded; only valid on routes behind a sign-in guard."""
    value = request.state.get(STATE_USER)
    if not isinstance(value, SignedIn):
        raise SignInRequiredError()
    return value


def begin_pending(request: Request[Any, Any, Any], user: User, stage: str) -> None:
    """Remember a half-finished sign-in under a fresh session id."""
    request.set_session({PENDING_KEY: {"uid": user.id, "stage": stage, "at": int(time.time())}})
    rotate_session_id(request)


def pending_user_id(request: Request[Any, Any, Any], stage: str) -> int | None:
    pending = request.session.get(PENDING_KEY) if "session" in request.scope else None
    if not isinstance(pending, dict) or pending.get("stage") != stage:
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    uid = pending.get("uid")
    return uid if isinstance(uid, int) else None


async def complete_sign_in(request: Request[Any, Any, Any], session: Any, user: User) -> LoginSession:
    """Open the session row and bind it to a brand-new session id (no fixation)."""
    row = await open_login_session(
        session, user, app_services(request.app).name, client_of(request), device_hash=ensure_device(request)
    )
    request.set_session({AUTH_KEY: row.id})
    rotate_session_id(request)
    return row


def sign_in_redirect(request: Request[Any, Any, Any], exc: SignInRequiredError) -> Response[Any]:
    """Exception handler: JSON 401 for the API, otherwise off to the sign-in form and back."""
    if wants_json(request):
        return Response({"status_code": 401, "detail": "Please sign in"}, status_code=401)
    target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return Redirect(f"/login?next={quote(target)}", status_code=303)


SIGN_IN_HANDLERS: dict[Any, Any] = {SignInRequiredError: sign_in_redirect}

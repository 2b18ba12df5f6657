"""Services behind the "my account" pages of both apps: sessions, password, 2FA.

The apps' controllers call these with the signed-in user; each returns what the page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request

from core.audit.service import record_audit
from core.identity import accounts, sessions, totp
from core.identity.errors import InvalidCredentialsError, WeakPasswordError
from core.identity.models import LoginSession, User
from core.web.auth import actor_for, signed_in
from core.web.state import app_services

WRONG_CURRENT_PASSWORD = "Your current password is not correct."  # noqa: S105 - a message, not a secret
PASSWORD_CHANGED = "Your password has been changed. Every other session has been signed out."  # noqa: S105 - a message, not a secret


async def my_sessions(request: Request[Any, Any, Any]) -> Sequence[LoginSession]:
    me = signed_in(request)
    services = app_services(request.app)
    async with services.database.session() as session:
        return await sessions.list_login_sessions(session, services.settings, me.user.id, services.name)


async def account_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    me = signed_in(request)
    async with app_services(request.app).database.session() as session:
        user = await session.get_one(User, me.user.id)
        remaining = await totp.remaining_recovery_codes(session, me.user.id)
    return {
        "user": user,
        "sessions": await my_sessions(request),
        "current_session_id": me.login.id,
        "recovery_codes_left": remaining,
    }


async def revoke_session(request: Request[Any, Any, Any], login_session_id: str) -> bool:
    me = signed_in(request)
    async with app_services(request.app).database.transaction() as session:
        revoked = await sessions.revoke_login_session(session, me.user.id, login_session_id)
        if revoked:
            await record_audit(
                session,
                actor_for(request, me.user),
                "security.session_revoked",
                target_type="login_session",
                target_id=login_session_id[:8],
            )
    return revoked


async def change_password(request: Request[Any, Any, Any], current: str, new: str) -> str:
    """Change the signed-in user's password; returns an error msgid, or ``""`` on success."""
    me = signed_in(request)
    services = app_services(request.app)
    try:
        async with services.database.transaction() as session:
            user = await session.get_one(User, me.user.id)
            await accounts.change_password(
                session, services.settings, user, current, new, me.login.id, actor_for(request, user)
            )
    except InvalidCredentialsError:
        return WRONG_CURRENT_PASSWORD
    except WeakPasswordError as exc:
        return str(exc)
    return ""


async def sign_out(request: Request[Any, Any, Any]) -> None:
    """End this browser's session: the row is revoked and the server-side session deleted."""
    me = request.state.get("user")
    if me is not None:
        async with app_services(request.app).database.transaction() as session:
            await sessions.revoke_login_session(session, me.user.id, me.login.id)
            await record_audit(
                session,
                actor_for(request, me.user),
                "security.logout",
                target_type="user",
                target_id=me.user.id,
            )
    request.clear_session()

"""The back office's one guard: every route names the permission it needs in ``opt``.

A route without ``opt["permission"]`` is refused (fail closed), so a forgotten declaration is a
403 in tests, never an open page. ``SIGNED_IN`` marks pages every signed-in staff member may
use (their own account, sign-out).
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from core.audit.service import record_audit
from core.identity.models import STAFF
from core.identity.roles import permissions_of
from core.web.auth import SignInRequiredError, actor_for, load_signed_in
from core.web.state import app_services

PERMISSION_KEY = "permission"
SIGNED_IN = "staff.signed_in"
STATE_PERMISSIONS = "permissions"


async def staff_permissions(connection: ASGIConnection[Any, Any, Any, Any]) -> frozenset[str]:
    cached = connection.state.get(STATE_PERMISSIONS)
    if isinstance(cached, frozenset):
        return cached
    me = await load_signed_in(connection)
    async with app_services(connection.app).database.read_session() as session:  # every page asks
        permissions = await permissions_of(session, me.user.id)
    connection.state[STATE_PERMISSIONS] = permissions
    return permissions


async def requires_permission(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Signed-in staff with TOTP enrolled, holding the route's declared permission."""
    permission = handler.opt.get(PERMISSION_KEY)
    if not isinstance(permission, str) or not permission:
        raise PermissionDeniedException("this page declares no permission")
    me = await load_signed_in(connection)
    if me.user.kind != STAFF or not me.user.has_totp:
        raise SignInRequiredError()
    if permission == SIGNED_IN:
        return
    if permission not in await staff_permissions(connection):
        async with app_services(connection.app).database.transaction() as session:
            await record_audit(
                session,
                actor_for(connection, me.user),
                "security.permission_denied",
                target_type="route",
                target_id=connection.url.path[:64],
                after={"permission": permission, "method": str(connection.scope.get("method", ""))},
            )
        raise PermissionDeniedException()


def permission(name: str) -> dict[str, str]:
    """``opt`` for a route: ``@get("/audit", opt=permission("audit.read"))``."""
    return {PERMISSION_KEY: name}

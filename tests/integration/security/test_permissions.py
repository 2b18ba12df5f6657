"""The permission sweep: every back-office route declares a permission, staff without it get 403,
and the declared permission granted alone gets through the guard.

The routes come from the app's own route table, so a route added later is covered without
editing this file. Routes that are public by nature are listed here with the reason.
"""

from __future__ import annotations

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from backoffice.guards import PERMISSION_KEY, SIGNED_IN, requires_permission
from core.audit.models import AuditEvent
from core.audit.service import SYSTEM
from core.db import Database
from core.identity.models import Role
from core.identity.permissions import ALL_PERMISSIONS
from core.identity.roles import create_role, set_role_permissions
from core.settings import Settings
from tests.apps import backoffice_app
from tests.helpers import csrf_from, make_staff, staff_sign_in
from tests.integration.security.routes import Route, routes_of

pytestmark = pytest.mark.asyncio

PUBLIC_ROUTES = {
    "/login": "the sign-in form must be reachable before sign-in",
    "/login/2fa": "second step of sign-in; needs a pending sign-in in the session, not a permission",
    "/enrol-2fa": "first-sign-in TOTP enrolment; needs a pending sign-in in the session",
    "/healthz": "load balancers probe it; it reveals only ok/error per dependency",
    "/metrics": "Prometheus has no staff session: guarded by the metrics bearer token instead"
    " (BROKERDESK_METRICS_TOKEN; off in production without one), see test_metrics_need_the_token",
    "/language": "switches the display language cookie only",
    "/static/{file_path:path}": "CSS and JavaScript files",
    "/api/schema": "the OpenAPI description of the API, no data",
    "/api/schema/openapi.json": "the OpenAPI description of the API, no data",
    "/api/schema/{path:str}": "the OpenAPI description of the API, no data",
}


def guarded_routes(app: Litestar) -> list[Route]:
    """Every route that needs a permission (not public, not every signed-in staff member's own)."""
    return [
        route
        for route in routes_of(app)
        if route.path not in PUBLIC_ROUTES and route.opt.get(PERMISSION_KEY) != SIGNED_IN
    ]


async def call(client: AsyncTestClient, route: Route, token: str) -> Response:
    """The route with a made-up id, and for writes an empty form with a valid CSRF token."""
    if route.method == "GET":
        return await client.get(route.url(), follow_redirects=False)
    return await client.request(
        route.method, route.url(), data={"_csrf_token": token}, follow_redirects=False
    )


async def denials(db: Database, email: str) -> int:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "security.permission_denied", AuditEvent.actor_email == email)
        )
    return int(count or 0)


async def test_every_route_declares_a_known_permission(settings: Settings, db: Database) -> None:
    routes = routes_of(backoffice_app(settings, db))
    assert len(routes) > 20
    for route in routes:
        permission = route.opt.get(PERMISSION_KEY)
        if route.path in PUBLIC_ROUTES:
            assert permission is None, f"{route} is listed public but declares {permission}"
            continue
        assert permission in ALL_PERMISSIONS | {SIGNED_IN}, f"{route} declares no known permission"
        assert requires_permission in route.guards, f"{route} declares {permission} but no guard checks it"


async def test_staff_without_permission_gets_403_everywhere(settings: Settings, db: Database) -> None:
    app = backoffice_app(settings, db)
    await make_staff(db, settings, "admin@staff.test", ["admin"])
    _id, secret = await make_staff(db, settings, "nobody@staff.test", [])
    assert secret
    async with AsyncTestClient(app=app) as client:
        await staff_sign_in(client, "nobody@staff.test", secret)
        page = await client.get("/account")
        assert page.status_code == 200
        token = csrf_from(page.text)
        checked = 0
        for route in guarded_routes(app):
            response = await call(client, route, token)
            assert response.status_code == 403, f"{route} answered {response.status_code}"
            assert "CSRF" not in response.text  # refused for the permission, not for the token
            assert "You do not have permission" in response.text or response.json()["status_code"] == 403
            checked += 1
        assert checked >= 15
        # the staff member's own pages stay reachable
        assert (await client.get("/account")).status_code == 200
    async with db.session() as session:
        denied = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "security.permission_denied"))
        )
    assert len(denied) == checked
    assert {event.actor_email for event in denied} == {"nobody@staff.test"}


async def test_each_declared_permission_alone_gets_through_the_guard(
    settings: Settings, db: Database
) -> None:
    """One staff member whose only role holds exactly the route's permission, route by route.

    Through the guard means: no ``security.permission_denied`` event, no sign-in redirect, and no
    server error, even with a made-up id and an empty form (the handler's own 400 or 404 is fine).
    """
    app = backoffice_app(settings, db)
    async with db.transaction() as session:
        await create_role(session, "solo", "one permission at a time", [], SYSTEM)
    _id, secret = await make_staff(db, settings, "solo@staff.test", ["solo"])
    assert secret
    routes = guarded_routes(app)
    async with AsyncTestClient(app=app) as client:
        await staff_sign_in(client, "solo@staff.test", secret)
        token = csrf_from((await client.get("/account")).text)
        for permission in sorted({route.opt[PERMISSION_KEY] for route in routes}):
            async with db.transaction() as session:
                role = await session.scalar(select(Role).where(Role.name == "solo"))
                assert role is not None
                await set_role_permissions(session, role, [permission], SYSTEM)
            for route in (r for r in routes if r.opt[PERMISSION_KEY] == permission):
                response = await call(client, route, token)
                assert response.status_code < 500, f"{route} with {permission}: {response.status_code}"
                assert not response.headers.get("location", "").startswith("/login"), str(route)
                assert await denials(db, "solo@staff.test") == 0, f"{route} refused {permission}"
        assert (await client.get("/account")).status_code == 200  # still signed in after the sweep


async def test_signed_out_requests_go_to_sign_in(backoffice_client: AsyncTestClient) -> None:
    for path in ("/", "/staff", "/audit", "/roles", "/dev/mailbox", "/account"):
        response = await backoffice_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    api = await backoffice_client.get("/api/v1/info")
    assert api.status_code == 401
    assert api.json()["detail"] == "Please sign in"


async def test_permission_granted_opens_page(settings: Settings, db: Database) -> None:
    app = backoffice_app(settings, db)
    _id, secret = await make_staff(db, settings, "auditor@staff.test", ["compliance"])
    assert secret
    async with AsyncTestClient(app=app) as client:
        await staff_sign_in(client, "auditor@staff.test", secret)
        assert (await client.get("/audit")).status_code == 200
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/api/v1/info")).json()["app"] == "backoffice"
        assert (await client.get("/staff", follow_redirects=False)).status_code == 403
    async with db.session() as session:
        actions = list(await session.scalars(select(AuditEvent.action)))
    assert "security.login" in actions

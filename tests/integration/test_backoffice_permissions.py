"""Every back-office route declares a permission, and staff without it get 403.

The routes come from the app's own route table, so a route added later is covered without
editing this file. Routes that are public by nature are listed here with the reason.
"""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from backoffice.guards import PERMISSION_KEY, SIGNED_IN
from core.audit.models import AuditEvent
from core.db import Database
from core.identity.permissions import ALL_PERMISSIONS
from core.settings import Settings
from tests.helpers import make_staff, staff_sign_in

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
IGNORED_METHODS = {
    "OPTIONS": "Litestar's automatic preflight answer: an Allow header, no data",
    "HEAD": "static",
}


def declared_routes(app: Litestar) -> list[tuple[str, str, str | None]]:
    """(path, method, declared permission) for every handler in the route table."""
    routes = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                if method not in IGNORED_METHODS:
                    routes.append((route.path, method, handler.opt.get(PERMISSION_KEY)))
    return routes


def concrete(path: str) -> str:
    return re.sub(r"\{[^}:]+:int\}", "1", path)


def backoffice(settings: Settings, db: Database) -> Litestar:
    from backoffice.app import create_app

    return create_app(settings, database=db)


async def test_every_route_declares_a_known_permission(settings: Settings, db: Database) -> None:
    routes = declared_routes(backoffice(settings, db))
    assert len(routes) > 20
    for path, method, permission in routes:
        if path in PUBLIC_ROUTES:
            assert permission is None, f"{method} {path} is listed public but declares {permission}"
            continue
        assert permission in ALL_PERMISSIONS | {SIGNED_IN}, f"{method} {path} declares no known permission"


async def test_staff_without_permission_gets_403_everywhere(settings: Settings, db: Database) -> None:
    app = backoffice(settings, db)
    await make_staff(db, settings, "admin@staff.test", ["admin"])
    _id, secret = await make_staff(db, settings, "nobody@staff.test", [])
    assert secret
    async with AsyncTestClient(app=app) as client:
        await staff_sign_in(client, "nobody@staff.test", secret)
        page = await client.get("/account")
        assert page.status_code == 200
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token
        checked = 0
        for path, method, permission in declared_routes(app):
            if path in PUBLIC_ROUTES or permission == SIGNED_IN:
                continue
            url = concrete(path)
            if method == "GET":
                response = await client.get(url, follow_redirects=False)
            else:
                response = await client.request(
                    method, url, data={"_csrf_token": token.group(1)}, follow_redirects=False
                )
            assert response.status_code == 403, f"{method} {path} answered {response.status_code}"
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


async def test_signed_out_requests_go_to_sign_in(backoffice_client: AsyncTestClient) -> None:
    for path in ("/", "/staff", "/audit", "/roles", "/dev/mailbox", "/account"):
        response = await backoffice_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    api = await backoffice_client.get("/api/v1/info")
    assert api.status_code == 401
    assert api.json()["detail"] == "Please sign in"


async def test_permission_granted_opens_page(settings: Settings, db: Database) -> None:
    app = backoffice(settings, db)
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

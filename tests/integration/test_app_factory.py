"""The shared app factory: unexpected errors, production hardening and Redis health."""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.exceptions import PermissionDeniedException
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from core.web.app_factory import AppSpec, build_app
from core.web.security_headers import HSTS


@get("/explode", include_in_schema=False)
async def explode() -> str:
    raise ValueError("secret internal detail: password=hunter2")


@get("/forbidden", include_in_schema=False)
async def forbidden() -> str:
    raise PermissionDeniedException()


@get("/hello", include_in_schema=False)
async def hello() -> str:
    return "hello"


@get("/api/v1/explode")
async def explode_api() -> str:
    raise ValueError("secret internal detail")


def _spec() -> AppSpec:
    return AppSpec(
        name="probe",
        title="Client portal",
        route_handlers=[explode, explode_api, hello, forbidden],
        template_dir=Path(__file__).parent,
        nav=(),
        session_cookie="bd_probe_session",
        csrf_cookie="bd_probe_csrf",
    )


async def test_unexpected_error_is_a_500_page_without_traceback(settings: Settings, db: Database) -> None:
    async with AsyncTestClient(app=build_app(_spec(), settings, database=db)) as client:
        response = await client.get("/explode")
        assert response.status_code == 500
        assert "Something went wrong" in response.text
        assert "Traceback" not in response.text
        assert "hunter2" not in response.text
        api = await client.get("/api/v1/explode")
        assert api.status_code == 500
        assert api.json()["status_code"] == 500
        assert "secret" not in api.text


async def test_403_is_a_page_without_traceback(settings: Settings, db: Database) -> None:
    async with AsyncTestClient(app=build_app(_spec(), settings, database=db)) as client:
        response = await client.get("/forbidden")
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
        assert "Access denied" in response.text
        assert "Traceback" not in response.text


async def test_production_adds_hsts_and_secure_cookies(
    settings: Settings, db: Database, redis_url: str
) -> None:
    production = Settings(
        env="production",
        secret_key="production-secret-for-test",
        database_url="postgresql+asyncpg://127.0.0.1/unused",
        redis_url=redis_url,
    ).check()
    async with AsyncTestClient(
        app=build_app(_spec(), production, database=db), base_url="https://testserver.local"
    ) as client:
        response = await client.get("/healthz")
        assert response.headers["strict-transport-security"] == HSTS
        assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
        page = await client.get("/no-such-page")
        assert page.status_code == 404
        hello_page = await client.get("/hello")
        csrf_cookie = hello_page.headers["set-cookie"].lower()
        assert "bd_probe_csrf=" in csrf_cookie
        assert "secure" in csrf_cookie
        assert "httponly" in csrf_cookie
        assert "samesite=lax" in csrf_cookie


async def test_healthz_reports_redis_down(settings: Settings, db: Database) -> None:
    broken = Settings(env="test", database_url=settings.database_url, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=build_app(_spec(), broken, database=db)) as client:
        response = await client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("error")

"""The security-header sweep: every page of both apps, signed in, with the test settings and with
production's, carries a CSP without outside origins, no framing, nosniff, a strict referrer policy,
HSTS in production, and cookies that are HttpOnly, SameSite and (in production) Secure.

The pages come from the apps' route tables (every GET route, error pages included), so a page
added later is swept without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from core.web.security_headers import HSTS
from tests.apps import backoffice_app, portal_app
from tests.helpers import client_sign_in, make_client, make_staff, staff_sign_in
from tests.integration.security.routes import routes_of

SAFE_SOURCES = {"'self'", "'none'", "data:"}
REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
OUTSIDE_URL = re.compile(r"""(?:src|href|action)\s*=\s*["']\s*(?:https?:)?//""", re.I)
SKIPPED = {
    "/metrics": "Prometheus text, and in production a 404 without a token; its headers are checked too",
}


def check_headers(
    response: Response, *, production: bool, where: str, form_targets: frozenset[str] = frozenset()
) -> int:
    """Assert the headers; answers how many cookies the response set.

    ``form_targets`` are the only outside origins ``form-action`` may name: the portal's forms
    redirect to the PSP's hosted page and the KYC vendor (``portal.app.redirect_targets``).
    """
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    assert csp, f"{where}: no Content-Security-Policy"
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    for name, sources in directives.items():
        allowed = SAFE_SOURCES | form_targets if name == "form-action" else SAFE_SOURCES
        outside = [source for source in sources if source not in allowed]
        assert not outside, f"{where}: CSP {name} allows {outside}"
    assert "default-src" in directives, where
    assert "'unsafe-inline'" not in csp, where
    assert "'unsafe-eval'" not in csp, where
    framing = directives.get("frame-ancestors") == ["'none'"] or headers.get("x-frame-options") == "DENY"
    assert framing, f"{where}: may be framed"
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") in REFERRER_POLICIES, where
    if production:
        assert headers.get("strict-transport-security") == HSTS, f"{where}: no HSTS in production"
    else:
        assert "strict-transport-security" not in headers, f"{where}: HSTS over plain HTTP"
    for cookie in headers.get_list("set-cookie"):
        flags = {flag.strip().split("=")[0].lower(): flag.strip() for flag in cookie.split(";")[1:]}
        name = cookie.split("=", 1)[0]
        assert "httponly" in flags, f"{where}: cookie {name} readable by scripts"
        assert flags.get("samesite", "").lower() in {"samesite=lax", "samesite=strict"}, f"{where}: {name}"
        assert ("secure" in flags) == production, f"{where}: cookie {name} Secure is not {production}"
    if "text/html" in headers.get("content-type", ""):
        for attributes in SCRIPT_TAG.findall(response.text):
            assert "src=" in attributes, f"{where}: an inline script (the CSP blocks it)"
        assert not OUTSIDE_URL.search(response.text), f"{where}: links an outside origin"
    return len(headers.get_list("set-cookie"))


def production_settings(settings: Settings, redis_url: str) -> Settings:
    return Settings(
        env="production",
        secret_key="production-secret-for-the-header-sweep",
        database_url="postgresql+asyncpg://127.0.0.1/unused",  # the test's own database is passed in
        redis_url=redis_url,
        redis_prefix=f"bdtest-headers-{id(settings)}",
        argon2_time_cost=1,
        argon2_memory_kib=256,
        argon2_parallelism=1,
        storage_dir=settings.storage_dir,
    ).check()


def form_targets_of(app_name: str, settings: Settings) -> frozenset[str]:
    if app_name != "portal":
        return frozenset()
    from portal.app import redirect_targets

    targets = frozenset(redirect_targets(settings))
    assert all(target.startswith(("http://127.0.0.1", "https://")) for target in targets), targets
    return targets


@asynccontextmanager
async def signed_in(app_name: str, settings: Settings, db: Database) -> AsyncIterator[AsyncTestClient]:
    base_url = "https://testserver.local" if settings.is_production else "http://testserver.local"
    if app_name == "portal":
        app: Litestar = portal_app(settings, db)
        await make_client(db, settings, "headers@example.test")
        async with AsyncTestClient(app=app, base_url=base_url) as browser:
            answer = await client_sign_in(browser, "headers@example.test")
            targets = form_targets_of("portal", settings)
            check_headers(
                answer, production=settings.is_production, where="POST /login", form_targets=targets
            )
            assert answer.status_code == 303, answer.text
            yield browser
    else:
        app = backoffice_app(settings, db)
        _id, secret = await make_staff(db, settings, "headers@staff.test", ["admin"])
        assert secret
        async with AsyncTestClient(app=app, base_url=base_url) as browser:
            await staff_sign_in(browser, "headers@staff.test", secret)
            yield browser


@pytest.mark.parametrize("env", ["test", "production"])
@pytest.mark.parametrize("app_name", ["portal", "backoffice"])
async def test_every_page_carries_the_security_headers(
    settings: Settings, db: Database, redis_url: str, app_name: str, env: str
) -> None:
    chosen = production_settings(settings, redis_url) if env == "production" else settings
    production = chosen.is_production
    targets = form_targets_of(app_name, chosen)
    async with signed_in(app_name, chosen, db) as browser:
        app: Litestar = browser.app  # type: ignore[assignment]
        pages = [r for r in routes_of(app) if r.method == "GET" and r.path not in SKIPPED]
        assert len(pages) >= 10
        checked = 0
        for route in pages:
            url = route.url(file_path="css/app.css", path="openapi.json", step="identity")
            response = await browser.get(url, follow_redirects=False)
            check_headers(
                response,
                production=production,
                where=f"GET {url} ({response.status_code})",
                form_targets=targets,
            )
            checked += 1
        # pages no route answers, and a method no route takes, get the same headers
        for response in (
            await browser.get("/no-such-page"),
            await browser.delete("/"),
            await browser.get("/metrics"),
            await browser.post("/language", data={"language": "zh_Hans", "next": "/"}),
        ):
            check_headers(
                response, production=production, where=f"{response.request.url.path}", form_targets=targets
            )
        # signing out again sets cookies: the same flags
        token = re.search(r'name="_csrf_token" value="([^"]+)"', (await browser.get("/account")).text)
        assert token
        out = await browser.post("/logout", data={"_csrf_token": token.group(1)}, follow_redirects=False)
        cookies = check_headers(out, production=production, where="POST /logout", form_targets=targets)
    assert checked >= 10
    assert cookies >= 1  # signing out sets (clears) the session cookie

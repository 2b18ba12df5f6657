"""Both apps, over HTTP: pages, errors, health, metrics, headers, languages, API schema."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from core.web.security_headers import CONTENT_SECURITY_POLICY, content_security_policy
from core.web.state import app_services
from tests.helpers import make_staff, staff_sign_in

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["portal", "backoffice"])
async def client(
    request: pytest.FixtureRequest,
    portal_client: AsyncTestClient,
    backoffice_client: AsyncTestClient,
    db: Database,
    settings: Settings,
) -> AsyncTestClient:
    """The portal as a visitor; the back office signed in as read-only staff (it has no public pages)."""
    if request.param == "portal":
        return portal_client
    _id, secret = await make_staff(db, settings, "viewer@staff.test", ["read_only"])
    assert secret
    await staff_sign_in(backoffice_client, "viewer@staff.test", secret)
    return backoffice_client


async def test_home_renders_layout_with_navigation_and_switcher(client: AsyncTestClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    body = response.text
    assert '<nav class="nav"' in body
    assert 'action="/language"' in body
    assert 'name="_csrf_token"' in body
    assert "简体中文" in body
    assert "English" in body
    assert '<script src="/static/vendor/htmx.min.js"' in body


async def test_security_headers_on_pages_and_errors(client: AsyncTestClient, settings: Settings) -> None:
    # The portal's forms may send the browser on to the PSP's hosted page, and nowhere else.
    policy = (
        content_security_policy([settings.psp_sandbox_url])
        if app_services(client.app).name == "portal"
        else CONTENT_SECURITY_POLICY
    )
    for path in ("/", "/no-such-page", "/healthz"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in response.headers  # only in production


async def test_no_outside_origin_in_pages(client: AsyncTestClient) -> None:
    body = (await client.get("/")).text
    assert not re.search(r"(src|href)=\"(https?:)?//", body)


async def test_404_is_a_page_without_traceback(client: AsyncTestClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Page not found" in response.text
    assert "Traceback" not in response.text


async def test_api_404_is_json(client: AsyncTestClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "status_code": 404,
        "detail": "The page you asked for does not exist or is not available to you.",
    }


async def test_healthz_checks_database(client: AsyncTestClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_metrics_in_prometheus_format(client: AsyncTestClient) -> None:
    await client.get("/")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "brokerdesk_requests_total" in response.text


async def test_openapi_schema_lists_api_v1(client: AsyncTestClient) -> None:
    response = await client.get("/api/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/info" in schema["paths"]
    assert all(path.startswith("/api/v1/") for path in schema["paths"])


async def test_language_switch_translates_pages(client: AsyncTestClient) -> None:
    page = await client.get("/")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await client.post(
        "/language",
        data={"language": "zh_Hans", "next": "/", "_csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    translated = await client.get("/")
    assert '<html lang="zh-Hans">' in translated.text
    assert "语言" in translated.text or "返回" in translated.text or "面向外汇经纪商" in translated.text
    info = await client.get("/api/v1/info")
    assert info.json()["language"] == "zh_Hans"


async def test_language_switch_comes_back_to_the_same_page_with_its_query(client: AsyncTestClient) -> None:
    """Switching language on a filtered list (or a referral sign-up) keeps the filters (the code)."""
    page = await client.get("/?ref=ABC&page=2")
    assert 'name="next" value="/?ref=ABC&amp;page=2"' in page.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await client.post(
        "/language",
        data={"language": "zh_Hans", "next": "/?ref=ABC&page=2", "_csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/?ref=ABC&page=2"


async def test_language_switch_refuses_open_redirect(client: AsyncTestClient) -> None:
    page = await client.get("/")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await client.post(
        "/language",
        data={"language": "en", "next": "//evil.example/", "_csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


async def test_post_without_csrf_token_is_refused(client: AsyncTestClient) -> None:
    await client.get("/")
    response = await client.post(
        "/language", data={"language": "zh_Hans", "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "bd_lang" not in response.headers.get("set-cookie", "")


async def test_accept_language_picks_chinese(client: AsyncTestClient) -> None:
    response = await client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans">' in response.text

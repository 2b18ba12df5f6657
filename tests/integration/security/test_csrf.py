"""The CSRF sweep: every write route of both apps refuses a request without a CSRF token or with a
wrong one, and changes nothing; every form in the templates carries the token.

The routes come from the apps' route tables, so a form added later is covered without editing this
file. The few routes exempt from CSRF are listed with the reason and must refuse an unsigned call.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from tests.apps import backoffice_app, portal_app
from tests.helpers import client_sign_in, csrf_from, make_client, make_staff, staff_sign_in
from tests.integration.security.routes import UNSAFE_METHODS, Route, changed_tables, routes_of, snapshot

ROOT = Path(__file__).resolve().parents[3]
POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.S | re.I)
EXEMPT = {
    "/webhooks/kyc/sandbox": "the KYC vendor's server calls it: its HMAC signature stands in for CSRF",
    "/cashier/psp/{psp_name:str}/webhook": "the PSP's server calls it: its HMAC signature stands in for CSRF",
    "/unsubscribe/{token:str}": (
        "RFC 8058 one-click unsubscribe: the mail client posts without cookies or a CSRF token; the "
        "per-recipient HMAC token stands in for it"
    ),
}
REFUSAL_JOURNALS = frozenset({"cashier_psp_webhook_events"})
"""Where an exempt route records the unsigned delivery it refused (by design: refusals are logged)."""
REFUSED = "CSRF token verification failed"
FORM = {"email": "someone@example.test", "amount": "10.00", "currency": "USD", "reason": "x", "name": "x"}


def test_every_post_form_has_a_csrf_field() -> None:
    templates = [
        p for pkg in ("core", "portal", "backoffice", "ib") for p in (ROOT / pkg).rglob("templates/**/*.html")
    ]
    templates = [p for p in templates if "mail/templates" not in str(p)]
    forms = 0
    for template in templates:
        for body in POST_FORM.findall(template.read_text(encoding="utf-8")):
            forms += 1
            assert "csrf_field()" in body, (
                f"a POST form in {template.relative_to(ROOT)} lacks {{{{ csrf_field() }}}}"
            )
    assert forms >= 15


def write_routes(app: Litestar) -> list[Route]:
    return [route for route in routes_of(app) if route.method in UNSAFE_METHODS]


async def forged(client: AsyncTestClient, route: Route, how: str, token: str) -> Response:
    """One write the way a forging page would send it: a form, a multipart form or JSON."""
    url = route.url(step="identity", token="x" * 43)
    if how == "form without token":
        return await client.request(route.method, url, data=FORM, follow_redirects=False)
    if how == "form with another session's token":
        return await client.request(
            route.method, url, data={**FORM, "_csrf_token": token}, follow_redirects=False
        )
    if how == "form with a made-up token":
        return await client.request(
            route.method, url, data={**FORM, "_csrf_token": "x" * 80}, follow_redirects=False
        )
    if how == "multipart without token":
        return await client.request(
            route.method, url, data=FORM, files={"file": ("a.pdf", b"%PDF-1.4 x")}, follow_redirects=False
        )
    if how == "json with another session's token":
        return await client.request(
            route.method, url, json=FORM, headers={"x-csrftoken": token}, follow_redirects=False
        )
    return await client.request(route.method, url, json=FORM, follow_redirects=False)


HOW = (
    "form without token",
    "form with another session's token",
    "form with a made-up token",
    "multipart without token",
    "json with another session's token",
    "json without token",
)


async def sweep(app: Litestar, db: Database, signed_in: AsyncTestClient, other_token: str) -> int:
    before = await snapshot(db, ignore=REFUSAL_JOURNALS)
    checked = 0
    for route in write_routes(app):
        if route.excluded_from_csrf:
            assert route.path in EXEMPT, f"{route} is exempt from CSRF without a reason listed here"
            answer = await signed_in.request(route.method, route.url(psp_name="sandbox"), json=FORM)
            assert 400 <= answer.status_code < 500, f"unsigned {route} answered {answer.status_code}"
            continue
        for how in HOW:
            answer = await forged(signed_in, route, how, other_token)
            assert answer.status_code == 403, f"{how}: {route} answered {answer.status_code}"
            assert REFUSED in answer.text, f"{how}: {route} refused for another reason: {answer.text[:200]}"
            checked += 1
    after = await snapshot(db, ignore=REFUSAL_JOURNALS)
    assert changed_tables(before, after) == []
    return checked


@pytest.mark.parametrize("app_name", ["portal", "backoffice"])
async def test_every_write_refuses_a_missing_or_wrong_csrf_token(
    settings: Settings, db: Database, app_name: str
) -> None:
    if app_name == "portal":
        await make_client(db, settings, "victim@example.test")
        await make_client(db, settings, "forger@example.test")
    else:
        _id, secret = await make_staff(db, settings, "admin@staff.test", ["admin"])
        _id, other_secret = await make_staff(db, settings, "forger@staff.test", ["admin"])
        assert secret
        assert other_secret
    app = (portal_app if app_name == "portal" else backoffice_app)(settings, db)
    async with AsyncTestClient(app=app) as victim, AsyncTestClient(app=app) as forger:
        if app_name == "portal":
            assert (await client_sign_in(victim, "victim@example.test")).status_code == 303
            assert (await client_sign_in(forger, "forger@example.test")).status_code == 303
        else:
            await staff_sign_in(victim, "admin@staff.test", secret)
            await staff_sign_in(forger, "forger@staff.test", other_secret)
        forger_token = csrf_from((await forger.get("/account")).text)
        checked = await sweep(app, db, victim, forger_token)
        assert checked >= 10 * len(HOW)
        # the refusals did not sign the victim out: the session and its own token still work
        page = await victim.get("/account")
        assert page.status_code == 200
        assert csrf_from(page.text) != forger_token

"""The portal's device cookie: random, long-lived and HttpOnly, set at registration and sign-in;
only its hash is kept on the sign-in session, and the shared-device rule finds clients by it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core import clock
from core.db import Database
from core.identity.models import LoginSession
from core.settings import Settings
from core.web.device import DEVICE_COOKIE
from risk import rules
from risk.engine import run_rule
from risk.models import RiskAlert, RiskAlertClient
from tests.apps import portal_app
from tests.helpers import STRONG_PASSWORD, client_sign_in, make_client, make_staff, staff_sign_in, submit

pytestmark = pytest.mark.asyncio


def device_cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    cookies = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    found = [cookie for cookie in cookies if cookie.startswith(f"{DEVICE_COOKIE}=")]
    assert len(found) == 1, cookies
    return found[0]


async def sessions(db: Database) -> list[LoginSession]:
    async with db.session() as session:
        return list(await session.scalars(select(LoginSession).order_by(LoginSession.created_at)))


async def test_sign_in_sets_the_cookie_once_and_stores_only_its_hash(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, "dev@example.test")
    first = await client_sign_in(portal_client, "dev@example.test")
    assert first.status_code == 303
    header = device_cookie_header(first)
    assert "HttpOnly" in header
    assert "Max-Age=34560000" in header
    assert "SameSite=Lax" in header
    device_id = portal_client.cookies[DEVICE_COOKIE]
    assert len(device_id) >= 32
    [row] = await sessions(db)
    assert row.device_hash == hashlib.sha256(device_id.encode()).hexdigest()
    assert device_id not in str(row.device_hash)

    await submit(portal_client, "/account", "/logout", {})
    again = await client_sign_in(portal_client, "dev@example.test")
    assert again.status_code == 303
    assert not [
        v for n, v in again.headers.multi_items() if n == "set-cookie" and v.startswith(DEVICE_COOKIE)
    ]
    assert {row.device_hash for row in await sessions(db)} == {hashlib.sha256(device_id.encode()).hexdigest()}


async def test_registration_issues_the_cookie_and_junk_is_replaced(
    portal_client: AsyncTestClient, settings: Settings, db: Database
) -> None:
    page = await portal_client.get("/register")
    assert not [v for n, v in page.headers.multi_items() if n == "set-cookie" and v.startswith(DEVICE_COOKIE)]
    registered = await submit(
        portal_client, "/register", "/register", {"email": "new@example.test", "password": STRONG_PASSWORD}
    )
    assert registered.status_code == 200
    device_cookie_header(registered)
    async with AsyncTestClient(app=portal_app(settings, db)) as other:
        other.cookies.set(DEVICE_COOKIE, "<script>")
        await make_client(db, settings, "junk@example.test")
        signed = await client_sign_in(other, "junk@example.test")
        assert "<script>" not in device_cookie_header(signed)


async def test_two_clients_on_one_browser_raise_a_shared_device_alert(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    one = await make_client(db, settings, "one@example.test")
    two = await make_client(db, settings, "two@example.test")
    await client_sign_in(portal_client, "one@example.test")
    await submit(portal_client, "/account", "/logout", {})
    await client_sign_in(portal_client, "two@example.test")
    run = await run_rule(
        db, rules.SHARED_DEVICE, rules.RULES[rules.SHARED_DEVICE], clock.utcnow() + timedelta(minutes=6)
    )
    assert len(run.raised) == 1
    async with db.session() as session:
        alert = await session.get(RiskAlert, run.raised[0])
        named = set(await session.scalars(select(RiskAlertClient.client_id)))
    assert alert is not None
    assert alert.subject.startswith("device:")
    assert named == {one, two}


async def test_staff_sign_ins_carry_no_device_hash(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    _id, secret = await make_staff(db, settings, "s@staff.test", ["compliance"])
    assert secret
    await staff_sign_in(backoffice_client, "s@staff.test", secret)
    assert [row.device_hash for row in await sessions(db)] == [None]
    assert DEVICE_COOKIE not in backoffice_client.cookies

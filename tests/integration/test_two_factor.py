"""TOTP for staff (mandatory) and clients (optional): enrolment, QR, recovery codes, no reuse."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import RecoveryCode, User
from core.settings import Settings
from tests.helpers import (
    STRONG_PASSWORD,
    client_sign_in,
    make_client,
    make_staff,
    staff_sign_in,
    submit,
    totp_code,
)

pytestmark = pytest.mark.asyncio

SECRET_ON_PAGE = re.compile(r'data-secret="([A-Z2-7]+)"')


async def test_staff_must_enrol_totp_at_first_sign_in(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    staff_id, _ = await make_staff(db, settings, "new@staff.test", ["support"], enrolled=False)
    first = await submit(
        backoffice_client, "/login", "/login", {"email": "new@staff.test", "password": STRONG_PASSWORD}
    )
    assert first.status_code == 303
    assert first.headers["location"] == "/enrol-2fa"

    # password alone opens nothing
    for path in ("/", "/account", "/dev/mailbox"):
        blocked = await backoffice_client.get(path, follow_redirects=False)
        assert blocked.status_code == 303, path
        assert blocked.headers["location"].startswith("/login"), path

    page = await backoffice_client.get("/enrol-2fa")
    assert page.status_code == 200
    assert "<svg" in page.text  # the QR code is drawn locally, inline
    assert "chart.googleapis" not in page.text
    assert "qrserver" not in page.text
    match = SECRET_ON_PAGE.search(page.text)
    assert match
    secret = match.group(1)

    wrong = await submit(backoffice_client, "/enrol-2fa", "/enrol-2fa", {"code": "000000"})
    assert wrong.status_code == 400
    assert "Wrong code" in wrong.text
    done = await submit(backoffice_client, "/enrol-2fa", "/enrol-2fa", {"code": totp_code(secret)})
    assert done.status_code == 200
    shown = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.text)
    assert len(shown) == 10
    assert (await backoffice_client.get("/")).status_code == 200

    async with db.session() as session:
        user = await session.get_one(User, staff_id)
        stored = list(
            await session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == staff_id))
        )
        actions = list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == staff_id))
        )
    assert user.totp_secret == secret
    assert user.totp_pending_secret is None
    assert len(stored) == 10
    assert not set(stored) & set(shown)
    assert actions == ["security.2fa_enabled", "security.login"]


async def test_staff_without_totp_cannot_skip_enrolment(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_staff(db, settings, "skip@staff.test", ["admin"], enrolled=False)
    await submit(
        backoffice_client, "/login", "/login", {"email": "skip@staff.test", "password": STRONG_PASSWORD}
    )
    second = await submit(backoffice_client, "/login", "/login/2fa", {"code": "123456"})
    assert second.status_code == 400  # no TOTP sign-in is pending: enrolment is the only way on
    for path in ("/staff", "/api/v1/info"):
        response = await backoffice_client.get(path, follow_redirects=False)
        assert response.status_code in (303, 401), path


async def test_totp_code_cannot_be_reused(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    _id, secret = await make_staff(db, settings, "dealer@staff.test", ["dealing"])
    assert secret
    used_code = await staff_sign_in(backoffice_client, "dealer@staff.test", secret)
    await submit(backoffice_client, "/", "/logout", {})
    first = await submit(
        backoffice_client, "/login", "/login", {"email": "dealer@staff.test", "password": STRONG_PASSWORD}
    )
    assert first.status_code == 303
    # The very code that signed in, not one computed anew: a new 30-second step would make it fresh.
    replay = await submit(backoffice_client, "/login/2fa", "/login/2fa", {"code": used_code})
    assert replay.status_code == 400
    assert "used already" in replay.text
    fresh = await submit(
        backoffice_client, "/login/2fa", "/login/2fa", {"code": totp_code(secret, offset_steps=1)}
    )
    assert fresh.status_code == 303
    async with db.session() as session:
        failures = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "security.2fa_failed"))
        )
    assert len(failures) == 1
    assert failures[0].after == {"reason": "code used already"}  # refused as a replay, not as wrong


async def test_wrong_codes_lock_the_second_step(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    _id, secret = await make_staff(db, settings, "brute@staff.test", ["support"])
    assert secret
    await submit(
        backoffice_client, "/login", "/login", {"email": "brute@staff.test", "password": STRONG_PASSWORD}
    )
    statuses = [
        (await submit(backoffice_client, "/login/2fa", "/login/2fa", {"code": f"00000{n}"})).status_code
        for n in range(settings.login_max_failures)
    ]
    assert statuses[-1] == 429
    assert set(statuses[:-1]) == {400}
    right = await submit(backoffice_client, "/login/2fa", "/login/2fa", {"code": totp_code(secret)})
    assert right.status_code == 429
    assert "locked" in right.text


async def test_client_turns_on_totp_and_signs_in_with_it(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    user_id = await make_client(db, settings, "lin@example.test")
    assert (await client_sign_in(portal_client, "lin@example.test")).status_code == 303
    account = await portal_client.get("/account")
    assert "Two-factor authentication is off." in account.text
    setup = await portal_client.get("/account/2fa/setup")
    assert "<svg" in setup.text
    match = SECRET_ON_PAGE.search(setup.text)
    assert match
    secret = match.group(1)
    done = await submit(
        portal_client, "/account/2fa/setup", "/account/2fa/setup", {"code": totp_code(secret)}
    )
    assert done.status_code == 200
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.text)
    assert len(codes) == 10

    await submit(portal_client, "/account", "/logout", {})
    first = await client_sign_in(portal_client, "lin@example.test")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login/2fa")
    assert (await portal_client.get("/account", follow_redirects=False)).status_code == 303
    recovered = await submit(
        portal_client, "/login/2fa", "/login/2fa", {"code": codes[0], "next": "/account"}
    )
    assert recovered.status_code == 303
    assert recovered.headers["location"] == "/account"

    await submit(portal_client, "/account", "/logout", {})
    await client_sign_in(portal_client, "lin@example.test")
    reused = await submit(portal_client, "/login/2fa", "/login/2fa", {"code": codes[0]})
    assert reused.status_code == 400  # a recovery code works once
    async with db.session() as session:
        left = list(
            await session.scalars(
                select(RecoveryCode).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
            )
        )
        events = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user_id)))
    assert len(left) == 9
    assert "security.2fa_enabled" in events
    assert "security.2fa_failed" in events


async def test_client_turns_totp_off_with_a_code(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    from core.identity.totp import new_secret

    secret = new_secret()
    user_id = await make_client(db, settings, "off@example.test", totp_secret=secret)
    await client_sign_in(portal_client, "off@example.test")
    assert (
        await submit(portal_client, "/login/2fa", "/login/2fa", {"code": totp_code(secret)})
    ).status_code == 303
    wrong = await submit(portal_client, "/account", "/account/2fa/disable", {"code": "999999"})
    assert wrong.status_code == 400
    off = await submit(
        portal_client, "/account", "/account/2fa/disable", {"code": totp_code(secret, offset_steps=1)}
    )
    assert off.status_code == 303
    async with db.session() as session:
        assert (await session.get_one(User, user_id)).totp_secret is None

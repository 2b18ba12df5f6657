"""Client sign-up and sign-in over HTTP on the real portal, good paths and bad."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from core import clock
from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import CLIENT, OneTimeToken, User
from core.jobs import Job
from tests.helpers import STRONG_PASSWORD, latest_mail, link_path, submit

pytestmark = pytest.mark.asyncio

EMAIL = "ada.client@example.test"


async def register(client: AsyncTestClient, email: str = EMAIL, **extra: str) -> None:
    response = await submit(
        client, "/register", "/register", {"email": email, "password": STRONG_PASSWORD, **extra}
    )
    assert response.status_code == 200
    assert "check your inbox" in response.text.lower()


async def confirm(client: AsyncTestClient, db: Database, email: str = EMAIL) -> str:
    path = link_path(await latest_mail(db, email))
    response = await submit(client, path, path, {})
    assert response.status_code == 200, response.text
    return path


async def sign_in(client: AsyncTestClient, email: str = EMAIL, password: str = STRONG_PASSWORD):  # type: ignore[no-untyped-def]
    return await submit(
        client, "/login", "/login", {"email": email, "password": password, "next": "/account"}
    )


async def test_register_verify_login_logout(
    portal_client: AsyncTestClient, db: Database, sent_jobs: list[Job]
) -> None:
    await register(portal_client, "Ada.Client@Example.test ")
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == EMAIL))
    assert user is not None
    assert user.kind == CLIENT
    assert (
        user.referral_code is None
    )  # registration through a code: tests/integration/ib/test_registration_attribution.py
    assert user.password_hash.startswith("$argon2id$")
    assert user.email_verified_at is None
    mail = await latest_mail(db, EMAIL)
    assert [job.actor_name for job in sent_jobs] == ["core.send_mail"]
    assert sent_jobs[0].args == (mail.id,)

    await confirm(portal_client, db)
    response = await sign_in(portal_client)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    account = await portal_client.get("/account")
    assert account.status_code == 200
    assert EMAIL in account.text

    logout = await submit(portal_client, "/account", "/logout", {})
    assert logout.status_code == 303
    after = await portal_client.get("/account", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/login")
    async with db.session() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["client.registered", "client.email_verified", "security.login", "security.logout"]


async def test_referral_link_prefills_code(portal_client: AsyncTestClient) -> None:
    page = await portal_client.get("/register?ref=PARTNER7")
    assert 'value="PARTNER7"' in page.text
    bad = await portal_client.get("/register?ref=%3Cscript%3E")
    assert "<script>" not in bad.text


async def test_unverified_email_cannot_sign_in(portal_client: AsyncTestClient, db: Database) -> None:
    await register(portal_client)
    response = await sign_in(portal_client)
    assert response.status_code == 403
    assert "confirm your email address first" in response.text
    async with db.session() as session:
        count = len(
            list(await session.scalars(select(OneTimeToken).where(OneTimeToken.purpose == "verify_email")))
        )
    assert count == 2  # a fresh link was sent


async def test_wrong_password_and_unknown_email_look_the_same(
    portal_client: AsyncTestClient, db: Database
) -> None:
    await register(portal_client)
    await confirm(portal_client, db)
    wrong = await sign_in(portal_client, password="Wrong-Password-99")
    unknown = await sign_in(portal_client, email="nobody@example.test")
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong email or password." in wrong.text
    assert "Wrong email or password." in unknown.text
    async with db.session() as session:
        failures = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "security.login_failed"))
        )
    assert len(failures) == 2


async def test_registering_a_taken_email_reveals_nothing(
    portal_client: AsyncTestClient, db: Database
) -> None:
    await register(portal_client)
    first = await latest_mail(db, EMAIL)
    response = await submit(
        portal_client, "/register", "/register", {"email": EMAIL, "password": "Another-Secret-77"}
    )
    assert response.status_code == 200
    assert "check your inbox" in response.text.lower()
    notice = await latest_mail(db, EMAIL)
    assert notice.id != first.id
    assert notice.template == "security_notice"
    async with db.session() as session:
        assert len(list(await session.scalars(select(User).where(User.email == EMAIL)))) == 1


async def test_weak_and_common_passwords_refused(portal_client: AsyncTestClient, db: Database) -> None:
    short = await submit(portal_client, "/register", "/register", {"email": EMAIL, "password": "Ab1!"})
    assert short.status_code == 400
    assert "at least 10 characters" in short.text
    common = await submit(
        portal_client, "/register", "/register", {"email": EMAIL, "password": "password1234"}
    )
    assert common.status_code == 400
    assert "too common" in common.text
    async with db.session() as session:
        assert await session.scalar(select(User).where(User.email == EMAIL)) is None


async def test_verification_link_is_single_use_and_expires(
    portal_client: AsyncTestClient, db: Database
) -> None:
    await register(portal_client)
    path = await confirm(portal_client, db)
    reused = await submit(portal_client, path, path, {})
    assert reused.status_code == 400
    assert "has been used already or has expired" in reused.text

    await register(portal_client, "late@example.test")
    late_path = link_path(await latest_mail(db, "late@example.test"))
    async with db.transaction() as session:
        await session.execute(update(OneTimeToken).values(expires_at=clock.utcnow() - timedelta(seconds=1)))
    expired = await submit(portal_client, late_path, late_path, {})
    assert expired.status_code == 400
    async with db.session() as session:
        late = await session.scalar(select(User).where(User.email == "late@example.test"))
    assert late is not None
    assert late.email_verified_at is None


async def test_forgot_password_reset_is_single_use(portal_client: AsyncTestClient, db: Database) -> None:
    await register(portal_client)
    await confirm(portal_client, db)
    unknown = await submit(
        portal_client, "/forgot-password", "/forgot-password", {"email": "ghost@example.test"}
    )
    known = await submit(portal_client, "/forgot-password", "/forgot-password", {"email": EMAIL})
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("ghost@example.test", "") == known.text.replace(EMAIL, "")
    path = link_path(await latest_mail(db, EMAIL))
    assert path.startswith("/reset-password/")
    new_password = "Brand-New-Secret-41"
    done = await submit(portal_client, path, path, {"password": new_password})
    assert done.status_code == 200
    assert "Password changed" in done.text
    again = await submit(portal_client, "/forgot-password", path, {"password": "Yet-Another-Secret-8"})
    assert again.status_code == 400
    assert (await sign_in(portal_client)).status_code == 400
    assert (await sign_in(portal_client, password=new_password)).status_code == 303


async def test_expired_reset_link_refused(portal_client: AsyncTestClient, db: Database) -> None:
    await register(portal_client)
    await confirm(portal_client, db)
    await submit(portal_client, "/forgot-password", "/forgot-password", {"email": EMAIL})
    path = link_path(await latest_mail(db, EMAIL))
    async with db.transaction() as session:
        await session.execute(
            update(OneTimeToken)
            .where(OneTimeToken.purpose == "reset_password")
            .values(expires_at=clock.utcnow() - timedelta(minutes=1))
        )
    page = await portal_client.get(path)
    assert page.status_code == 400
    response = await submit(portal_client, "/forgot-password", path, {"password": "Brand-New-Secret-41"})
    assert response.status_code == 400
    assert (await sign_in(portal_client)).status_code == 303  # old password still works

"""Small helpers for driving the apps over HTTP the way a browser does."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from httpx import Response
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db import Database
from core.mail.models import OutboxMail
from tests.log_watch import remember_cookies

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
STRONG_PASSWORD = "Violet-Harbour-73!"


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def submit(
    client: AsyncTestClient, page: str, action: str, data: dict[str, Any], **kwargs: Any
) -> Response:
    """GET ``page`` for its CSRF token, then POST ``data`` to ``action`` without following redirects."""
    token = csrf_from((await client.get(page)).text)
    return await client.post(action, data={**data, "_csrf_token": token}, follow_redirects=False, **kwargs)


async def latest_mail(db: Database, to: str) -> OutboxMail:
    async with db.session() as session:
        mail = await session.scalar(
            select(OutboxMail).where(OutboxMail.to_address == to).order_by(OutboxMail.id.desc()).limit(1)
        )
    assert mail is not None, f"no mail to {to}"
    return mail


def link_path(mail: OutboxMail) -> str:
    match = re.search(r"https?://[^/\s]+(/[^\s]+)", mail.text_body)
    assert match, "mail has no link"
    return match.group(1)


def totp_code(secret: str, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    import time

    return totp.at(time.time() + 30 * offset_steps)


async def make_staff(
    db: Database, settings: Any, email: str, roles: list[str], *, enrolled: bool = True
) -> tuple[int, str | None]:
    """A staff member with ``roles``; with ``enrolled`` their TOTP secret is set. Returns (id, secret)."""
    from core.audit.service import SYSTEM
    from core.identity.staff import create_staff
    from core.identity.totp import new_secret

    async with db.transaction() as session:
        user = await create_staff(
            session,
            settings,
            email=email,
            display_name=email.split("@")[0],
            password=STRONG_PASSWORD,
            role_names=roles,
            actor=SYSTEM,
        )
        secret = new_secret() if enrolled else None
        user.totp_secret = secret
        return user.id, secret


async def staff_sign_in(client: AsyncTestClient, email: str, secret: str) -> str:
    """Password then TOTP, asserting each step answers as a browser expects. Returns the code used."""
    first = await submit(client, "/login", "/login", {"email": email, "password": STRONG_PASSWORD})
    assert first.status_code == 303, first.text
    assert first.headers["location"].startswith("/login/2fa")
    code = totp_code(secret)
    second = await submit(client, first.headers["location"], "/login/2fa", {"code": code})
    assert second.status_code == 303, second.text
    remember_cookies(client)
    return code


async def make_client(db: Database, settings: Any, email: str, *, totp_secret: str | None = None) -> int:
    """A verified client with :data:`STRONG_PASSWORD`."""
    from core import clock
    from core.identity.models import CLIENT, User
    from core.identity.passwords import hash_password

    async with db.transaction() as session:
        user = User(
            kind=CLIENT,
            email=email,
            password_hash=await hash_password(settings, STRONG_PASSWORD),
            language="en",
            email_verified_at=clock.utcnow(),
            created_at=clock.utcnow(),
            totp_secret=totp_secret,
        )
        session.add(user)
        await session.flush()
        return user.id


async def client_sign_in(client: AsyncTestClient, email: str, password: str = STRONG_PASSWORD) -> Response:
    answer = await submit(
        client, "/login", "/login", {"email": email, "password": password, "next": "/account"}
    )
    remember_cookies(client)
    return answer

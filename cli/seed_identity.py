"""Demo identities: one admin and one staff member per seeded role, and one client.

Staff come with TOTP already enrolled so the demo can be used at once; their secrets are printed
to add to an authenticator app (or to compute codes with ``python -m pyotp``). Demo only.
"""

from __future__ import annotations

from sqlalchemy import select

from core import clock
from core.audit.service import SYSTEM
from core.db import Database
from core.identity.models import CLIENT, STAFF, User
from core.identity.passwords import hash_password
from core.identity.permissions import SEEDED_ROLES
from core.identity.roles import ensure_seeded_roles
from core.identity.staff import create_staff
from core.identity.totp import new_secret
from core.settings import Settings

DEMO_STAFF_PASSWORD = "Demo-Staff-Pass-2026"  # noqa: S105 - a published demo value
DEMO_CLIENT_PASSWORD = "Demo-Client-Pass-2026"  # noqa: S105 - a published demo value
DEMO_DOMAIN = "demo.brokerdesk.test"


def demo_client(email: str, name: str, password_hash: str) -> User:
    """A demo client with a verified email, as of now (:mod:`core.clock`)."""
    now = clock.utcnow()
    return User(
        kind=CLIENT,
        email=email,
        display_name=name,
        language="en",
        password_hash=password_hash,
        email_verified_at=now,
        created_at=now,
        password_changed_at=now,
    )


async def seed_identities(database: Database, settings: Settings) -> list[str]:
    lines = [f"back office staff (password {DEMO_STAFF_PASSWORD}; TOTP secret for your authenticator app):"]
    async with database.transaction() as session:
        await ensure_seeded_roles(session)
        for role in SEEDED_ROLES:
            email = f"{role.replace('_', '-')}@{DEMO_DOMAIN}"
            user = await session.scalar(select(User).where(User.kind == STAFF, User.email == email))
            if user is None:
                user = await create_staff(
                    session,
                    settings,
                    email=email,
                    display_name=f"Demo {role.replace('_', ' ')}",
                    password=DEMO_STAFF_PASSWORD,
                    role_names=[role],
                    actor=SYSTEM,
                )
                user.totp_secret = new_secret()
            lines.append(f"  {email:<40} role {role:<11} TOTP {user.totp_secret or '(enrol at sign-in)'}")
        client_email = f"client@{DEMO_DOMAIN}"
        if await session.scalar(select(User).where(User.kind == CLIENT, User.email == client_email)) is None:
            session.add(
                demo_client(client_email, "Demo client", await hash_password(settings, DEMO_CLIENT_PASSWORD))
            )
    lines.append(f"portal client: {client_email} / {DEMO_CLIENT_PASSWORD}")
    return lines

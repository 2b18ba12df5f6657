"""``brokerdesk create-staff`` and the demo seeder, run for real against the test database."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from sqlalchemy import select

from cli.seed import seed_demo
from core.db import Database
from core.identity.models import STAFF, User
from core.identity.permissions import SEEDED_ROLES
from core.identity.roles import role_names_of
from core.settings import Settings

pytestmark = pytest.mark.asyncio


async def test_create_staff_command(database_url: str, db: Database) -> None:
    result = subprocess.run(  # noqa: ASYNC221 - the CLI needs its own process and event loop
        [
            sys.executable,
            "-m",
            "cli.main",
            "create-staff",
            "--email",
            "First@Admin.test",
            "--name",
            "First",
            "--password-stdin",
        ],
        input="Sturdy-Admin-Pass-9\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={"DATABASE_URL": database_url, "BROKERDESK_ARGON2_MEMORY_KIB": "1024", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "first@admin.test created" in result.stdout
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == "first@admin.test"))
        assert user is not None
        assert user.kind == STAFF
        assert user.totp_secret is None
        assert await role_names_of(session, user.id) == ["admin"]

    weak = subprocess.run(  # noqa: ASYNC221 - as above
        [sys.executable, "-m", "cli.main", "create-staff", "--email", "weak@admin.test", "--password-stdin"],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert weak.returncode == 2
    assert "at least" in weak.stderr


async def test_demo_seed_is_idempotent_and_prints_totp_secrets(db: Database, settings: Settings) -> None:
    first = await seed_demo(db, settings)
    second = await seed_demo(db, settings)
    assert first == second
    text = "\n".join(first)
    secrets = re.findall(r"TOTP ([A-Z2-7]{32})", text)
    assert len(secrets) == len(SEEDED_ROLES)
    async with db.session() as session:
        staff = list(await session.scalars(select(User).where(User.kind == STAFF)))
        assert len(staff) == len(SEEDED_ROLES)
        assert {u.totp_secret for u in staff} == set(secrets)
        held = {tuple(await role_names_of(session, u.id)) for u in staff}
    assert held == {(role,) for role in SEEDED_ROLES}
    assert "client@demo.brokerdesk.test" in text

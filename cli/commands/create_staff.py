"""``brokerdesk create-staff``: create a staff member from the shell, such as the first admin.

The password is asked for twice (or read from stdin with ``--password-stdin`` for scripts); it is
never taken as an argument, which would leave it in shell history and the process list. The new
staff member enrols TOTP at their first sign-in.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from core.audit.service import Actor
from core.db import Database
from core.errors import BrokerDeskError
from core.identity.accounts import normalise_email
from core.identity.roles import ensure_seeded_roles
from core.identity.staff import create_staff
from core.settings import Settings, load_settings

CLI_ACTOR = Actor(id=None, email="cli", kind="system")


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("create-staff", help="create a staff member (the first admin, say)")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", default="", help="display name")
    parser.add_argument(
        "--role", action="append", dest="roles", help="role name; repeat for several (default: admin)"
    )
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    parser.set_defaults(handler=run)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise BrokerDeskError("the passwords do not match")
    return first


async def create(settings: Settings, email: str, name: str, roles: list[str], password: str) -> int:
    database = Database.from_url(settings.database_url)
    try:
        async with database.transaction() as session:
            await ensure_seeded_roles(session)
            user = await create_staff(
                session,
                settings,
                email=email,
                display_name=name,
                password=password,
                role_names=roles,
                actor=CLI_ACTOR,
            )
            return user.id
    finally:
        await database.dispose()


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    password = read_password(args.password_stdin)
    roles = args.roles or ["admin"]
    user_id = asyncio.run(create(settings, args.email, args.name, roles, password))
    print(f"staff member {normalise_email(args.email)} created (id {user_id}, roles: {', '.join(roles)}).")
    print("They set up two-factor authentication at their first sign-in to the back office.")
    return 0

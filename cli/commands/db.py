"""``brokerdesk db upgrade|downgrade``: run the Alembic migrations."""

from __future__ import annotations

import argparse
from typing import Any

from core.db import migrate
from core.settings import load_settings


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("db", help="migrate the database")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="apply migrations (to every head by default)")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(handler=upgrade)
    down = actions.add_parser("downgrade", help="revert migrations to REVISION ('-1', 'base', an id)")
    down.add_argument("revision")
    down.set_defaults(handler=downgrade)


def upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate.upgrade(settings.database_url, args.revision)
    print(f"database upgraded to {args.revision}")
    return 0


def downgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate.downgrade(settings.database_url, args.revision)
    print(f"database downgraded to {args.revision}")
    return 0

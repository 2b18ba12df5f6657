"""Demo data. Each seeder is idempotent (it checks before it inserts) and returns lines to print,
such as the demo logins. Later issues add their seeders to :data:`SEEDERS`.

Every person, email and number seeded here is obviously fake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cli.seed_ib import seed_ib
from cli.seed_identity import seed_identities
from cli.seed_knowledge import seed_knowledge
from cli.seed_kyc import seed_kyc
from cli.seed_risk import seed_risk
from core.db import Database
from core.settings import Settings

Seeder = Callable[[Database, Settings], Awaitable[list[str]]]

SEEDERS: tuple[Seeder, ...] = (seed_identities, seed_kyc, seed_ib, seed_risk, seed_knowledge)


async def seed_demo(database: Database, settings: Settings) -> list[str]:
    lines: list[str] = []
    for seeder in SEEDERS:
        lines.extend(await seeder(database, settings))
    return lines

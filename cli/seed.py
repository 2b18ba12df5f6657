"""Demo data. Each seeder is idempotent (it checks before it inserts) and returns lines to print,
such as the demo logins. Later issues add their seeders to :data:`SEEDERS`.

The seeders in :data:`BACKDATED` run with the clock at the start of the demo's history
(:func:`cli.seed_history.history_start`), so the staff, the IB network and its scheme, and the
first clients exist before the months of history that :mod:`cli.seed_history` builds on them.

Every person, email and number seeded here is obviously fake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cli.seed_history import history_start
from cli.seed_ib import seed_ib
from cli.seed_identity import seed_identities
from cli.seed_knowledge import seed_knowledge
from cli.seed_kyc import seed_kyc
from cli.seed_risk import seed_risk
from core import clock
from core.db import Database
from core.settings import Settings

Seeder = Callable[[Database, Settings], Awaitable[list[str]]]

SEEDERS: tuple[Seeder, ...] = (seed_identities, seed_kyc, seed_ib, seed_risk, seed_knowledge)
BACKDATED: frozenset[Seeder] = frozenset({seed_identities, seed_kyc, seed_ib})


async def seed_demo(database: Database, settings: Settings) -> list[str]:
    lines: list[str] = []
    start = history_start()
    for seeder in SEEDERS:
        if seeder in BACKDATED:
            with clock.set_to(start):
                lines.extend(await seeder(database, settings))
        else:
            lines.extend(await seeder(database, settings))
    return lines

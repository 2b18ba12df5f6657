"""What every PostgreSQL benchmark in bench/ shares (DESIGN.md §12): a figure with its ratio to a
baseline measured in the same run, a scratch database created for the run and dropped after it,
the JSON line a figure is reported as, and the machine's load average to report with it.

Not a benchmark itself: ``make bench`` runs only the scripts whose names do not start with ``_``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from mt_bridge.models import AccountType, TradingGroup, TradingServer

DEFAULT_ADMIN_URL = "postgresql://127.0.0.1:5432/test"


@dataclass
class Figure:
    metric: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else 0.0


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` form asyncpg takes of an SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_database(admin_url: str, name: str) -> AsyncIterator[tuple[str, str]]:
    """Database ``name`` created on the server of ``admin_url`` for one run, yielded as its asyncpg
    DSN and SQLAlchemy URL, and dropped afterwards however the run ends."""
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    dsn = asyncpg_dsn(admin_url).rsplit("/", 1)[0] + f"/{name}"
    try:
        yield dsn, dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def bulk(db: Database, model: Any, rows: list[dict[str, Any]], batch: int = 5_000) -> None:
    """Seed ``model``'s table with ``rows``, one transaction per ``batch`` rows."""
    for start in range(0, len(rows), batch):
        async with db.transaction() as session:
            await session.execute(insert(model), rows[start : start + batch])


async def trading_product(
    session: AsyncSession, *, server: str, group: str, first_login: int, leverages: list[int]
) -> tuple[int, int]:
    """One MT5 server (never dialled: the benchmarks read accounts from the database), a USD group
    on it and a "Standard" account type in that group; answers the server's and the type's ids."""
    found = TradingServer(
        name=server,
        platform="mt5",
        address="127.0.0.1:1",
        manager_login=1,
        manager_password_sealed=b"x",
        login_range_start=first_login,
    )
    session.add(found)
    await session.flush()
    trading_group = TradingGroup(server_id=found.id, name=group, currency="USD")
    session.add(trading_group)
    await session.flush()
    kind = AccountType(
        code="std",
        name="Standard",
        server_id=found.id,
        group_id=trading_group.id,
        currency="USD",
        leverage_options=leverages,
        auto_leverage_max=max(leverages),
    )
    session.add(kind)
    await session.flush()
    return found.id, kind.id


def print_json_lines(bench: str, figures: list[Figure], *, value_digits: int, ratio_digits: int) -> None:
    """One JSON line a figure, in the shape DESIGN.md §12 asks for."""
    for figure in figures:
        print(
            json.dumps(
                {
                    "bench": bench,
                    "metric": figure.metric,
                    "value": round(figure.value, value_digits),
                    "unit": figure.unit,
                    "baseline": figure.baseline,
                    "ratio": round(figure.ratio, ratio_digits),
                }
            )
        )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine moves every figure."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


SERVER_SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "synchronous_commit", "autovacuum")
"""The PostgreSQL settings that move a write-heavy figure most, reported with it."""


async def server_settings(dsn: str) -> str:
    """The server's :data:`SERVER_SETTINGS`, as ``name value`` pairs: a figure measured against a
    small ``shared_buffers`` is not the figure of a server sized for the data."""
    connection = await asyncpg.connect(dsn)
    try:
        values = [f"{name} {await connection.fetchval(f'SHOW {name}')}" for name in SERVER_SETTINGS]
    finally:
        await connection.close()
    return ", ".join(values)


async def write_pressure(dsn: str) -> tuple[int, int] | None:
    """(checkpoints requested so far, buffers written by backends themselves): two counters that
    grow when the data written outruns ``max_wal_size`` and ``shared_buffers``. They count the
    whole server, so other work on it counts too. ``None`` on a
    server that keeps them elsewhere (PostgreSQL 17 moved them out of ``pg_stat_bgwriter``)."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow("SELECT checkpoints_req, buffers_backend FROM pg_stat_bgwriter")
    except asyncpg.PostgresError:
        return None
    finally:
        await connection.close()
    return int(row["checkpoints_req"]), int(row["buffers_backend"])

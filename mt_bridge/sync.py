"""Pulling a server's deals, positions and balances into the CRM, and posting deals to the ledger.

Deals come by time window, per server (group mask ``*``), from the watermark minus an overlap to
now, in chunks. Each chunk is upserted and the watermark advanced (highest deal time minus a
safety lag) in one short transaction, after the network call; an interrupted sync therefore
restarts from the last committed chunk and the overlap re-reads what might be missing, while
the upsert on (server, ticket) makes re-reading harmless. The trailing days are re-scanned to
catch dealers' edits and deletes. A lease on the server's sync-state row keeps one sync at a time
per server.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import utcnow
from core.db import Database
from mt_bridge.command_worker import as_utc
from mt_bridge.connect import PlatformSource
from mt_bridge.deal_posting import PostingReport, post_pending_deals
from mt_bridge.deal_store import mark_deleted, upsert_deals
from mt_bridge.errors import PlatformNotFoundError
from mt_bridge.models import (
    MirroredPosition,
    SyncState,
    TradingAccount,
    TradingAccountStatus,
    TradingServer,
    table_of,
)
from mt_bridge.platform import DealQuery, PositionQuery
from mt_bridge.records import Deal

SYNC_DEALS_ACTOR = "mt_bridge.sync_server"
RESCAN_DEALS_ACTOR = "mt_bridge.rescan_deals"
RECONCILE_ACTOR = "mt_bridge.reconcile_server"
ALL_GROUPS = "*"


@dataclass(frozen=True)
class SyncPolicy:
    """Windows and margins of the deal sync."""

    overlap: timedelta = timedelta(minutes=5)
    """Each window starts this far before the watermark: deals stamped late are read again."""
    safety_lag: timedelta = timedelta(seconds=30)
    """The watermark stays this far behind the newest deal seen."""
    future_margin: timedelta = timedelta(minutes=1)
    """Windows end this far after now, so a server clock a little ahead loses nothing."""
    chunk: timedelta = timedelta(hours=6)
    """The longest window asked for in one call."""
    initial_backfill: timedelta = timedelta(days=30)
    """Where a server's first sync starts."""
    rescan: timedelta = timedelta(days=3)
    """How far back the re-scan for edits and deletes looks."""
    lease: timedelta = timedelta(minutes=5)


DEFAULT_SYNC_POLICY = SyncPolicy()


@dataclass(frozen=True)
class SyncReport:
    deals_seen: int
    watermark: datetime | None
    posting: PostingReport


class SyncBusyError(Exception):
    """Raised when another sync of the same server holds the lease."""


def _insert(connection: AsyncConnection):  # type: ignore[no-untyped-def]
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


async def enabled_server_ids(db: Database) -> list[int]:
    async with db.engine.connect() as connection:
        t = table_of(TradingServer).c
        return [
            row for (row,) in await connection.execute(select(t.id).where(t.enabled.is_(True)).order_by(t.id))
        ]


async def acquire_lease(db: Database, server_id: int, policy: SyncPolicy) -> str | None:
    """Take the server's sync lease; None when a live sync holds it."""
    owner = uuid.uuid4().hex
    now = utcnow()
    async with db.write_connection() as connection:
        await connection.execute(
            _insert(connection)(table_of(SyncState)).values(server_id=server_id).on_conflict_do_nothing()
        )
        s = table_of(SyncState).c
        taken = await connection.execute(
            update(table_of(SyncState))
            .where(s.server_id == server_id, or_(s.lease_until.is_(None), s.lease_until < now))
            .values(lease_until=now + policy.lease, lease_owner=owner)
        )
    return owner if taken.rowcount == 1 else None


async def release_lease(db: Database, server_id: int, owner: str, error: str | None = None) -> None:
    s = table_of(SyncState).c
    async with db.write_connection() as connection:
        await connection.execute(
            update(table_of(SyncState))
            .where(s.server_id == server_id, s.lease_owner == owner)
            .values(lease_until=None, lease_owner=None, last_run_at=utcnow(), last_error=error)
        )


async def read_watermark(db: Database, server_id: int) -> datetime | None:
    async with db.engine.connect() as connection:
        value = await connection.scalar(
            select(table_of(SyncState).c.watermark).where(table_of(SyncState).c.server_id == server_id)
        )
    return None if value is None else as_utc(value)


def _windows(since: datetime, until: datetime, chunk: timedelta) -> list[tuple[datetime, datetime]]:
    windows = []
    start = since
    while start < until:
        end = min(start + chunk, until)
        windows.append((start, end))
        start = end
    return windows


async def pull_deals(
    db: Database,
    platforms: PlatformSource,
    server_id: int,
    owner: str,
    policy: SyncPolicy = DEFAULT_SYNC_POLICY,
) -> tuple[int, datetime | None]:
    """Fetch deals since the watermark and upsert them chunk by chunk; returns (seen, watermark)."""
    platform = await platforms(server_id)
    watermark = await read_watermark(db, server_id)
    now = utcnow()
    since = watermark - policy.overlap if watermark is not None else now - policy.initial_backfill
    seen = 0
    s = table_of(SyncState).c
    windows = _windows(since, now + policy.future_margin, policy.chunk)

    def fetch(index: int) -> asyncio.Task[list[Deal]] | None:
        if index >= len(windows):
            return None
        start, end = windows[index]
        return asyncio.create_task(platform.fetch_deals(DealQuery(since=start, until=end, group=ALL_GROUPS)))

    # The next window is fetched while this one is stored: the network and the database overlap.
    pending = fetch(0)
    try:
        for index in range(len(windows)):
            assert pending is not None
            deals = await pending
            pending = fetch(index + 1)
            if not deals:
                continue
            newest = max(deal.time for deal in deals) - policy.safety_lag
            async with db.write_connection() as connection:
                await upsert_deals(connection, server_id, deals, utcnow())
                if watermark is None or newest > watermark:
                    watermark = newest
                    advanced = await connection.execute(
                        update(table_of(SyncState))
                        .where(s.server_id == server_id, s.lease_owner == owner)
                        .values(watermark=watermark, lease_until=utcnow() + policy.lease)
                    )
                    if advanced.rowcount != 1:
                        raise SyncBusyError(f"server {server_id}: sync lease lost")
            seen += len(deals)
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
    return seen, watermark


async def rescan_deals(
    db: Database, platforms: PlatformSource, server_id: int, policy: SyncPolicy = DEFAULT_SYNC_POLICY
) -> tuple[int, int]:
    """Re-read the trailing days: upsert what changed, mark deleted what is gone; (seen, deleted)."""
    platform = await platforms(server_id)
    until = utcnow()
    since = until - policy.rescan
    seen = deleted = 0
    for start, end in _windows(since, until, policy.chunk):
        deals = await platform.fetch_deals(DealQuery(since=start, until=end, group=ALL_GROUPS))
        async with db.write_connection() as connection:
            await upsert_deals(connection, server_id, deals, utcnow())
            deleted += await mark_deleted(connection, server_id, start, end, {d.ticket for d in deals})
        seen += len(deals)
    async with db.write_connection() as connection:
        await connection.execute(
            update(table_of(SyncState))
            .where(table_of(SyncState).c.server_id == server_id)
            .values(last_rescan_at=utcnow())
        )
    return seen, deleted


async def sync_positions(db: Database, platforms: PlatformSource, server_id: int) -> int:
    """Replace the server's mirrored open positions with what it reports now."""
    platform = await platforms(server_id)
    positions = await platform.fetch_positions(PositionQuery(group=ALL_GROUPS))
    table = table_of(MirroredPosition)
    async with db.write_connection() as connection:
        await connection.execute(delete(table).where(table.c.server_id == server_id))
        if positions:
            await connection.execute(
                table.insert(),
                [
                    {
                        "server_id": server_id,
                        "ticket": p.ticket,
                        "login": p.login,
                        "symbol": p.symbol[:32],
                        "side": int(p.side),
                        "volume": p.volume,
                        "price_open": p.price_open,
                        "price_current": p.price_current,
                        "profit": p.profit,
                        "swap": p.swap,
                        "opened_at": p.opened_at,
                        "updated_at": p.updated_at,
                    }
                    for p in positions
                ],
            )
    return len(positions)


async def refresh_balances(db: Database, platforms: PlatformSource, server_id: int) -> dict[int, int]:
    """Read every open account's money from the server and store it; returns login → balance."""
    platform = await platforms(server_id)
    t = table_of(TradingAccount).c
    async with db.engine.connect() as connection:
        logins = [
            login
            for (login,) in await connection.execute(
                select(t.login).where(
                    t.server_id == server_id,
                    t.status == TradingAccountStatus.ACTIVE.value,
                    t.login.is_not(None),
                )
            )
        ]
    balances: dict[int, int] = {}
    for login in logins:
        try:
            info = await platform.get_account(login)
        except PlatformNotFoundError:
            continue
        balances[login] = info.balance
        async with db.write_connection() as connection:
            await connection.execute(
                update(table_of(TradingAccount))
                .where(and_(t.server_id == server_id, t.login == login))
                .values(
                    balance=info.balance,
                    credit=info.credit,
                    equity=info.equity,
                    margin=info.margin,
                    margin_free=info.margin_free,
                    leverage=info.leverage,
                    synced_at=utcnow(),
                )
            )
    return balances


async def sync_server(
    db: Database,
    platforms: PlatformSource,
    server_id: int,
    policy: SyncPolicy = DEFAULT_SYNC_POLICY,
    *,
    positions: bool = True,
    balances: bool = True,
) -> SyncReport:
    """One sync pass: deals, positions and balances, then ledger postings. Raises
    :class:`SyncBusyError` when another pass of the same server is running."""
    owner = await acquire_lease(db, server_id, policy)
    if owner is None:
        raise SyncBusyError(f"server {server_id} is being synced")
    error: str | None = None
    try:
        seen, watermark = await pull_deals(db, platforms, server_id, owner, policy)
        if positions:
            await sync_positions(db, platforms, server_id)
        if balances:
            await refresh_balances(db, platforms, server_id)
        posting = await post_pending_deals(db, server_id)
        return SyncReport(seen, watermark, posting)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        await release_lease(db, server_id, owner, error)

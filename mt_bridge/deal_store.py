"""Mirrored deals: upsert on (server, ticket), and mark the ones a dealer deleted.

An upsert that changes a deal's money bumps its ``revision`` and flags it for posting; one that
changes nothing writes nothing, so re-reading an overlap costs no churn. Both PostgreSQL and
SQLite do this in one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, MetaData, Table, and_, case, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from mt_bridge.models import MirroredDeal, decimal_text, table_of
from mt_bridge.records import Deal

DEALS = table_of(MirroredDeal)
DATA_COLUMNS = (
    "login",
    "order_ticket",
    "position_id",
    "action",
    "entry",
    "symbol",
    "raw_symbol",
    "volume",
    "volume_closed",
    "price",
    "profit",
    "commission",
    "swap",
    "fee",
    "currency_digits",
    "time",
    "time_msc",
    "comment",
)
MONEY_COLUMNS = ("profit", "commission", "swap", "fee")
UPSERT_CHUNK = 5000


SERVER_COLUMNS = ("ticket", *DATA_COLUMNS)
"""The columns whose values come from the server, in the order :func:`deal_values` gives them."""
FIRST_SEEN = {
    "deleted": False,
    "revision": 0,
    "needs_posting": True,
    "posted_profit": 0,
    "posted_commission": 0,
    "posted_swap": 0,
    "posted_fee": 0,
}
"""What the CRM's own columns hold for a deal it has not seen before."""


def _same(value: Decimal) -> Decimal:
    return value


def deal_values(deal: Deal, decimal: Callable[[Decimal], Any] = _same) -> tuple[Any, ...]:
    """The deal's :data:`SERVER_COLUMNS` values; ``decimal`` turns lots and price into what the
    writer takes (``Decimal`` for SQLAlchemy; their text for COPY, which skips ``DecimalText``)."""
    return (
        deal.ticket,
        deal.login,
        deal.order,
        deal.position_id,
        deal.action,
        deal.entry,
        deal.symbol[:32],
        deal.raw_symbol[:32],
        decimal(deal.volume),
        decimal(deal.volume_closed),
        decimal(deal.price),
        deal.profit,
        deal.commission,
        deal.swap,
        deal.fee,
        deal.currency_digits,
        deal.time,
        deal.server_time_msc,
        deal.comment[:64],
    )


def deal_row(server_id: int, deal: Deal, now: datetime) -> dict[str, Any]:
    """The whole ``mt_deal`` row of a newly seen deal."""
    return {
        "server_id": server_id,
        **dict(zip(SERVER_COLUMNS, deal_values(deal), strict=True)),
        **FIRST_SEEN,
        "synced_at": now,
    }


INCOMING = Table(
    "mt_deal_incoming", MetaData(), *(Column(name, DEALS.c[name].type) for name in SERVER_COLUMNS)
)
"""PostgreSQL: a session-local temporary table of the :data:`SERVER_COLUMNS`, filled by binary
COPY; the upsert adds the server, :data:`FIRST_SEEN` and the sync time as constants."""
COPY_THRESHOLD = 200
CREATE_INCOMING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS mt_deal_incoming ON COMMIT DELETE ROWS AS "  # noqa: S608 - fixed names
    f"SELECT {', '.join(SERVER_COLUMNS)} FROM mt_deal WITH NO DATA"
)


def upsert_statement(dialect: str, *, incoming_of: tuple[int, datetime] | None = None) -> Any:
    """The one statement that inserts a new deal or brings a known one up to date.

    With ``incoming_of`` (server id, sync time) the rows are selected from ``mt_deal_incoming``.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DEALS)
    if incoming_of is not None:
        server_id, now = incoming_of
        constants = {"server_id": server_id, **FIRST_SEEN, "synced_at": now}
        source = select(
            *(INCOMING.c[name] for name in SERVER_COLUMNS),
            *(literal(value, DEALS.c[name].type) for name, value in constants.items()),
        )
        statement = statement.from_select([*SERVER_COLUMNS, *constants], source)
    new = statement.excluded
    c = DEALS.c
    money_changed = or_(c.deleted, *(c[name] != new[name] for name in MONEY_COLUMNS))
    anything_changed = or_(c.deleted, *(c[name] != new[name] for name in DATA_COLUMNS))
    changes: dict[str, Any] = {name: new[name] for name in DATA_COLUMNS}
    changes.update(
        deleted=False,
        revision=case((money_changed, c.revision + 1), else_=c.revision),
        needs_posting=case((money_changed, True), else_=c.needs_posting),
        synced_at=new.synced_at,
    )
    return statement.on_conflict_do_update(
        index_elements=["server_id", "ticket"], set_=changes, where=anything_changed
    )


async def upsert_deals(
    connection: AsyncConnection, server_id: int, deals: Sequence[Deal], now: datetime
) -> int:
    """Insert or update ``deals`` of one server; returns how many were given."""
    if not deals:
        return 0
    unique = {deal.ticket: deal for deal in deals}
    if connection.dialect.name == "postgresql" and len(unique) >= COPY_THRESHOLD:
        await _upsert_by_copy(connection, server_id, unique.values(), now)
        return len(unique)
    rows = [deal_row(server_id, deal, now) for deal in unique.values()]
    statement = upsert_statement(connection.dialect.name)
    for start in range(0, len(rows), UPSERT_CHUNK):
        await connection.execute(statement, rows[start : start + UPSERT_CHUNK])
    return len(rows)


async def _upsert_by_copy(
    connection: AsyncConnection, server_id: int, deals: Iterable[Deal], now: datetime
) -> None:
    """Binary COPY of the server's columns into a temporary table, then one
    ``INSERT … SELECT … ON CONFLICT`` (PostgreSQL)."""
    # Through SQLAlchemy first, so the transaction has begun before COPY uses the driver directly.
    await connection.execute(text(CREATE_INCOMING))
    await connection.execute(text("TRUNCATE mt_deal_incoming"))
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    records = [deal_values(deal, decimal_text) for deal in deals]
    await driver.copy_records_to_table("mt_deal_incoming", records=records, columns=list(SERVER_COLUMNS))
    await connection.execute(upsert_statement("postgresql", incoming_of=(server_id, now)))


async def mark_deleted(
    connection: AsyncConnection, server_id: int, since: datetime, until: datetime, present: set[int]
) -> int:
    """Mark deleted every live deal of ``[since, until)`` that the server no longer has."""
    c = DEALS.c
    known = await connection.execute(
        select(c.ticket).where(
            c.server_id == server_id, c.deleted.is_(False), c.time >= since, c.time < until
        )
    )
    gone = [ticket for (ticket,) in known if ticket not in present]
    for start in range(0, len(gone), 500):
        await connection.execute(
            update(DEALS)
            .where(and_(c.server_id == server_id, c.ticket.in_(gone[start : start + 500])))
            .values(deleted=True, needs_posting=True, revision=c.revision + 1)
        )
    return len(gone)

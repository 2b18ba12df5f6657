"""Mirrored deals: upsert on (server, ticket), and mark the ones a dealer deleted.

An upsert that changes a deal's money bumps its ``revision`` and flags it for posting; one that
changes nothing writes nothing, so re-reading an overlap costs no churn. Both PostgreSQL and
SQLite do this in one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, MetaData, Table, and_, case, or_, select, text, update
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


def _same(value: Decimal) -> Decimal:
    return value


def deal_row(
    server_id: int, deal: Deal, now: datetime, decimal: Callable[[Decimal], Any] = _same
) -> dict[str, Any]:
    """The ``mt_deal`` row of a newly seen deal; ``decimal`` turns lots and price into what the
    writer takes (``Decimal`` for SQLAlchemy; for COPY, which skips ``DecimalText``, its text)."""
    return {
        "server_id": server_id,
        "ticket": deal.ticket,
        "login": deal.login,
        "order_ticket": deal.order,
        "position_id": deal.position_id,
        "action": deal.action,
        "entry": deal.entry,
        "symbol": deal.symbol[:32],
        "raw_symbol": deal.raw_symbol[:32],
        "volume": decimal(deal.volume),
        "volume_closed": decimal(deal.volume_closed),
        "price": decimal(deal.price),
        "profit": deal.profit,
        "commission": deal.commission,
        "swap": deal.swap,
        "fee": deal.fee,
        "currency_digits": deal.currency_digits,
        "time": deal.time,
        "time_msc": deal.server_time_msc,
        "comment": deal.comment[:64],
        "deleted": False,
        "revision": 0,
        "needs_posting": True,
        "posted_profit": 0,
        "posted_commission": 0,
        "posted_swap": 0,
        "posted_fee": 0,
        "synced_at": now,
    }


INCOMING = Table(
    "mt_deal_incoming",
    MetaData(),
    *(Column(column.name, column.type) for column in DEALS.c if column.name != "id"),
)
"""PostgreSQL: a session-local temporary copy of ``mt_deal``'s columns, filled by binary COPY."""
INCOMING_COLUMNS = [column.name for column in INCOMING.c]
COPY_THRESHOLD = 200
CREATE_INCOMING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS mt_deal_incoming "
    "(LIKE mt_deal INCLUDING DEFAULTS EXCLUDING IDENTITY) ON COMMIT DELETE ROWS"
)


def upsert_statement(dialect: str, *, from_incoming: bool = False) -> Any:
    """The one statement that inserts a new deal or brings a known one up to date."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DEALS)
    if from_incoming:
        statement = statement.from_select(INCOMING_COLUMNS, select(*INCOMING.c))
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
        await _upsert_by_copy(
            connection, [deal_row(server_id, d, now, decimal_text) for d in unique.values()]
        )
        return len(unique)
    rows = [deal_row(server_id, deal, now) for deal in unique.values()]
    statement = upsert_statement(connection.dialect.name)
    for start in range(0, len(rows), UPSERT_CHUNK):
        await connection.execute(statement, rows[start : start + UPSERT_CHUNK])
    return len(rows)


async def _upsert_by_copy(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Binary COPY into a temporary table, then one ``INSERT … SELECT … ON CONFLICT`` (PostgreSQL).

    Every row has the keys of :func:`deal_row` in one order, so its values are the COPY record.
    """
    # Through SQLAlchemy first, so the transaction has begun before COPY uses the driver directly.
    await connection.execute(text(CREATE_INCOMING))
    await connection.execute(text("TRUNCATE mt_deal_incoming"))
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    columns = list(rows[0])
    records = [tuple(row.values()) for row in rows]
    await driver.copy_records_to_table("mt_deal_incoming", records=records, columns=columns)
    await connection.execute(upsert_statement("postgresql", from_incoming=True))


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

"""Writing new synced deals into ``ib_deal``, each row given its id.

On PostgreSQL the ids are drawn from the table's sequence in one statement and the rows go in by
binary COPY on the transaction's own driver connection: the engine stores a feed batch of
thousands of deals per transaction, and the ORM's multi-row INSERT … RETURNING cost more than the
database's work. Elsewhere (SQLite) an INSERT … RETURNING in chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import StoredDeal
from ib.snapshot import chunked

DEAL_COLUMNS = tuple(column.name for column in StoredDeal.__table__.columns)
DEAL_ID_SEQUENCE = "ib_deal_id_seq"
"""The sequence behind ``ib_deal.id`` (PostgreSQL's name for a serial column's; a test checks it
against ``pg_get_serial_sequence``). Passed by name: ``nextval(pg_get_serial_sequence(…))`` looks
the sequence up again for every row, 11 ms of a 5,000-deal batch where drawing the ids takes 2."""


async def insert_deals(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (values of ``ib_deal`` without ``id``) and set each row's ``"id"``.

    A row that another transaction stored first fails the batch with :class:`IntegrityError`, on
    either database, so the engine's retry sees the committed rows.
    """
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        statement = insert(StoredDeal).returning(StoredDeal.id, sort_by_parameter_order=True)
        for inserted in chunked(rows, 2000):
            result = await session.execute(statement, list(inserted))
            for row, deal_id in zip(inserted, result.scalars(), strict=True):
                row["id"] = deal_id
        return
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    ids = await driver.fetch(
        "SELECT nextval($2::regclass) FROM generate_series(1, $1)", len(rows), DEAL_ID_SEQUENCE
    )
    for row, (deal_id,) in zip(rows, ids, strict=True):
        row["id"] = deal_id
    try:
        await driver.copy_records_to_table(
            "ib_deal", records=[[row[name] for name in DEAL_COLUMNS] for row in rows], columns=DEAL_COLUMNS
        )
    except asyncpg.UniqueViolationError as exc:
        raise IntegrityError("COPY ib_deal", None, exc) from exc

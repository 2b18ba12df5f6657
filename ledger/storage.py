"""SQL for the posting path, in bulk, with one flavour per backend.

PostgreSQL gets array parameters (``= ANY(:ids)``, ``unnest``) so a batch of any size is a fixed
handful of statements, and the four writes travel as one statement of data-modifying CTEs.
SQLite gets chunked ``IN`` lists and ``executemany``; it runs under ``BEGIN IMMEDIATE``, so it can
hand out ids from ``MAX(id)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, String, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db import Database
from ledger.models import Account, Entry, Journal, Transfer

SQLITE_CHUNK = 500

accounts_table: Table = Account.__table__  # type: ignore[assignment]
transfers_table: Table = Transfer.__table__  # type: ignore[assignment]
entries_table: Table = Entry.__table__  # type: ignore[assignment]
journals_table: Table = Journal.__table__  # type: ignore[assignment]


class AccountRow(NamedTuple):
    id: int
    currency: str
    normal_side: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    version: int


class StoredTransfer(NamedTuple):
    id: int
    journal_id: int
    idempotency_key: str
    kind: str
    debit_account_id: int
    credit_account_id: int
    currency: str
    amount: int
    pending_id: int | None
    reverses_id: int | None
    timeout_at: datetime | None
    rate_id: int | None
    code: str
    reference: str | None


class TransferRow(NamedTuple):
    id: int
    journal_id: int
    idempotency_key: str
    kind: str
    debit_account_id: int
    credit_account_id: int
    currency: str
    amount: int
    pending_id: int | None
    reverses_id: int | None
    timeout_at: datetime | None
    rate_id: int | None
    code: str
    reference: str | None


class EntryRow(NamedTuple):
    account_id: int
    version: int
    transfer_id: int
    side: str
    posted_amount: int
    pending_amount: int
    balance_after: int


ACCOUNT_COLUMNS = [accounts_table.c[name] for name in AccountRow._fields]
TRANSFER_COLUMNS = [transfers_table.c[name] for name in StoredTransfer._fields]


def _chunks(values: Sequence[Any], size: int = SQLITE_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _member_of(column: Any, values: Sequence[Any], element_type: Any) -> ColumnElement[bool]:
    """``column = ANY(:array)``: one bound parameter however many values (PostgreSQL)."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(element_type)))  # type: ignore[no-any-return]


async def _select_in(
    connection: AsyncConnection,
    dialect: str,
    columns: list[Any],
    column: Any,
    values: Iterable[Any],
    element_type: Any,
) -> list[Any]:
    ordered = sorted(values)
    if not ordered:
        return []
    if dialect == "postgresql":
        result = await connection.execute(select(*columns).where(_member_of(column, ordered, element_type)))
        return list(result.all())
    rows: list[Any] = []
    for chunk in _chunks(ordered):
        rows.extend((await connection.execute(select(*columns).where(column.in_(chunk)))).all())
    return rows


async def load_transfers_by_id(
    connection: AsyncConnection, dialect: str, ids: Iterable[int]
) -> dict[int, StoredTransfer]:
    rows = await _select_in(connection, dialect, TRANSFER_COLUMNS, transfers_table.c.id, ids, BigInteger())
    return {row.id: StoredTransfer(*row) for row in rows}


async def load_transfers_by_key(
    connection: AsyncConnection, dialect: str, keys: Iterable[str]
) -> dict[str, StoredTransfer]:
    rows = await _select_in(
        connection, dialect, TRANSFER_COLUMNS, transfers_table.c.idempotency_key, keys, String()
    )
    return {row.idempotency_key: StoredTransfer(*row) for row in rows}


async def resolved_pending_ids(
    connection: AsyncConnection, dialect: str, pending_ids: Iterable[int]
) -> set[int]:
    column = transfers_table.c.pending_id
    rows = await _select_in(connection, dialect, [column], column, pending_ids, BigInteger())
    return {row[0] for row in rows}


async def reversed_transfer_ids(connection: AsyncConnection, dialect: str, ids: Iterable[int]) -> set[int]:
    column = transfers_table.c.reverses_id
    rows = await _select_in(connection, dialect, [column], column, ids, BigInteger())
    return {row[0] for row in rows}


async def lock_accounts(connection: AsyncConnection, dialect: str, ids: Sequence[int]) -> list[AccountRow]:
    """Read and lock the accounts, in ascending id order, in one statement on PostgreSQL."""
    if not ids:
        return []
    if dialect == "postgresql":
        statement = (
            select(*ACCOUNT_COLUMNS)
            .where(_member_of(accounts_table.c.id, ids, BigInteger()))
            .order_by(accounts_table.c.id)
            .with_for_update()
        )
        return [AccountRow(*row) for row in (await connection.execute(statement)).all()]
    rows = await _select_in(connection, dialect, ACCOUNT_COLUMNS, accounts_table.c.id, ids, BigInteger())
    return [AccountRow(*row) for row in rows]


POSTGRESQL_ALLOCATE = text(
    "SELECT ARRAY(SELECT nextval('journals_id_seq') FROM generate_series(1, :journals)),"
    " ARRAY(SELECT nextval('transfers_id_seq') FROM generate_series(1, :transfers))"
)


async def allocate_ids(
    connection: AsyncConnection, dialect: str, journal_count: int, transfer_count: int
) -> tuple[list[int], list[int]]:
    """Ids for the new journals and transfers, known before the insert so entries can refer to them."""
    if dialect == "postgresql":
        row = (
            await connection.execute(
                POSTGRESQL_ALLOCATE, {"journals": journal_count, "transfers": transfer_count}
            )
        ).one()
        return list(row[0]), list(row[1])
    last_journal = (
        await connection.execute(select(func.coalesce(func.max(journals_table.c.id), 0)))
    ).scalar_one()
    last_transfer = (
        await connection.execute(select(func.coalesce(func.max(transfers_table.c.id), 0)))
    ).scalar_one()
    return (
        list(range(last_journal + 1, last_journal + 1 + journal_count)),
        list(range(last_transfer + 1, last_transfer + 1 + transfer_count)),
    )


POSTGRESQL_UPDATE_ACCOUNTS = """
    UPDATE accounts AS a
    SET debits_posted = u.debits_posted, credits_posted = u.credits_posted,
        debits_pending = u.debits_pending, credits_pending = u.credits_pending, version = u.version
    FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[])
        AS u(id, debits_posted, credits_posted, debits_pending, credits_pending, version)
    WHERE a.id = u.id
"""
JOURNAL_COLUMNS = ("id", "code", "description", "created_at")
TRANSFER_INSERT_COLUMNS = (*TransferRow._fields, "created_at")
ENTRY_INSERT_COLUMNS = (*EntryRow._fields, "created_at")


SQLITE_UPDATE_ACCOUNT = (
    update(accounts_table)
    .where(accounts_table.c.id == bindparam("a_id"))
    .values(
        debits_posted=bindparam("a_dp"),
        credits_posted=bindparam("a_cp"),
        debits_pending=bindparam("a_dpe"),
        credits_pending=bindparam("a_cpe"),
        version=bindparam("a_version"),
    )
)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


async def write(
    connection: AsyncConnection,
    dialect: str,
    journals: Sequence[tuple[int, str, str]],
    transfers: Sequence[TransferRow],
    entries: Sequence[EntryRow],
    accounts: Sequence[tuple[int, int, int, int, int, int]],
    now: datetime,
) -> None:
    """Insert journals, transfers and entries, and store the accounts' new counters."""
    if dialect == "postgresql":
        await _write_postgresql(connection, journals, transfers, entries, accounts, now)
        return
    await connection.execute(
        journals_table.insert(),
        [
            {"id": i, "code": code, "description": description, "created_at": now}
            for i, code, description in journals
        ],
    )
    await connection.execute(
        transfers_table.insert(), [{**row._asdict(), "created_at": now} for row in transfers]
    )
    await connection.execute(
        entries_table.insert(), [{**row._asdict(), "created_at": now} for row in entries]
    )
    await connection.execute(
        SQLITE_UPDATE_ACCOUNT,
        [
            {"a_id": i, "a_dp": dp, "a_cp": cp, "a_dpe": dpe, "a_cpe": cpe, "a_version": version}
            for i, dp, cp, dpe, cpe, version in accounts
        ],
    )


async def connection_of(connection: AsyncConnection | AsyncSession) -> AsyncConnection:
    """The Core connection under a session, so ledger functions accept either."""
    if isinstance(connection, AsyncSession):
        return await connection.connection()
    return connection


async def _write_postgresql(
    connection: AsyncConnection,
    journals: Sequence[tuple[int, str, str]],
    transfers: Sequence[TransferRow],
    entries: Sequence[EntryRow],
    accounts: Sequence[tuple[int, int, int, int, int, int]],
    now: datetime,
) -> None:
    """Binary COPY for the three inserts (the fastest bulk path PostgreSQL has), then one UPDATE.

    COPY goes through the driver connection of the same transaction; it fires the same constraint
    triggers and CHECKs as INSERT.
    """
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        "journals", records=[(*journal, now) for journal in journals], columns=JOURNAL_COLUMNS
    )
    await driver.copy_records_to_table(
        "transfers", records=[(*row, now) for row in transfers], columns=TRANSFER_INSERT_COLUMNS
    )
    await driver.copy_records_to_table(
        "entries", records=[(*row, now) for row in entries], columns=ENTRY_INSERT_COLUMNS
    )
    await driver.execute(POSTGRESQL_UPDATE_ACCOUNTS, *_columns(accounts, 6))


Readable = AsyncConnection | AsyncSession | Database
"""Anything a read can run on: an open connection or session, or the database itself."""


@asynccontextmanager
async def reading_connection(source: Readable) -> AsyncIterator[AsyncConnection]:
    """A connection to read with: the caller's, or a short-lived one from the database."""
    if isinstance(source, Database):
        async with source.engine.connect() as connection:
            yield connection
    else:
        yield await connection_of(source)

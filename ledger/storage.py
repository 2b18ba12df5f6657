"""SQL for the posting path, in bulk, with one flavour per backend.

PostgreSQL gets arrays (sent as text literals, expanded with ``unnest``) so a batch of any size is
two statements between ``BEGIN`` and ``COMMIT`` (three when it resolves or reverses something):

* one locks the batch's accounts (with those of the transfers it resolves or reverses) and reads
  the transfers it names, by id and by idempotency key;
* one draws the journal and transfer ids from their sequences and inserts transfers, entries and
  account counters, as data-modifying CTEs.

Round trips, not rows, are what a small batch pays for; the pool's pre-ping is off for the same
reason (see :attr:`core.db.Database.unpinged_engine`).
SQLite gets chunked ``IN`` lists and ``executemany``; it runs under ``BEGIN IMMEDIATE``, so it can
hand out ids from ``MAX(id)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import Database
from ledger.models import Account, Entry, Transfer

SQLITE_CHUNK = 500

accounts_table: Table = Account.__table__  # type: ignore[assignment]
transfers_table: Table = Transfer.__table__  # type: ignore[assignment]
entries_table: Table = Entry.__table__  # type: ignore[assignment]


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
    """A transfer to insert. Its id comes from the write; ``journal_slot`` numbers the batch's new
    journals from 1, and the write turns it into a journal id."""

    journal_slot: int
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
    """An entry to insert; ``transfer_number`` is its transfer's position in the write, from 1."""

    account_id: int
    version: int
    transfer_number: int
    side: str
    posted_amount: int
    pending_amount: int
    balance_after: int


ACCOUNT_COLUMNS = [accounts_table.c[name] for name in AccountRow._fields]
TRANSFER_COLUMNS = [transfers_table.c[name] for name in StoredTransfer._fields]


def _chunks(values: Sequence[Any], size: int = SQLITE_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Locked(NamedTuple):
    """What :meth:`PostingStore.lock` answers."""

    accounts: list[AccountRow]
    """Every account locked, in ascending id order."""
    transfers: list[StoredTransfer]
    """The stored transfers with one of the ids or keys asked for (one may come twice)."""


class PostingStore(Protocol):
    """What the posting path needs from the database, in bulk."""

    async def lock(
        self, account_ids: Iterable[int], transfer_ids: Iterable[int], keys: Iterable[str]
    ) -> Locked:
        """Lock ``account_ids`` and the accounts of the transfers ``transfer_ids``, and read those
        transfers and the ones with an idempotency key in ``keys``."""
        ...

    async def claimed(
        self, pending_ids: Iterable[int], reversible_ids: Iterable[int]
    ) -> tuple[set[int], set[int]]:
        """Which of ``pending_ids`` are resolved already, and which of ``reversible_ids`` reversed."""
        ...

    async def write(
        self,
        journal_count: int,
        transfers: Sequence[TransferRow],
        entries: Sequence[EntryRow],
        accounts: Sequence[tuple[int, int, int, int, int, int]],
        now: datetime,
    ) -> list[int]:
        """Insert ``transfers`` (under ``journal_count`` new journal ids) and ``entries``, write the
        counters of ``accounts``, and answer the new transfer ids in the order of ``transfers``."""
        ...


def posting_store(connection: AsyncConnection) -> PostingStore:
    if connection.dialect.name == "postgresql":
        return PostgresStore(connection)
    return SqliteStore(connection)


TRANSFER_SELECT = ", ".join(StoredTransfer._fields)
ACCOUNT_SELECT = ", ".join(AccountRow._fields)
POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves dialects untyped


def _typed_nulls(columns: list[Any]) -> str:
    return ", ".join(f"NULL::{column.type.compile(dialect=POSTGRESQL)}" for column in columns)


ACCOUNT_NULLS = _typed_nulls(ACCOUNT_COLUMNS)
TRANSFER_NULLS = _typed_nulls(TRANSFER_COLUMNS)
"""Typed NULLs in the shape of an account row and of a transfer row, to pad a UNION ALL branch."""


def int_array(values: Iterable[int] | Iterable[int | None]) -> str:
    """A PostgreSQL array literal of integers. Sent as one text parameter and cast by the server,
    it costs a ``join`` instead of the driver's per-element encoding (the dominant client cost)."""
    values = list(values)
    if None not in values:
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


def text_array(values: Iterable[str | None]) -> str:
    """A PostgreSQL array literal of strings, each quoted and escaped."""
    return "{" + ",".join("NULL" if value is None else _quoted(value) for value in values) + "}"


def timestamp_array(values: Iterable[datetime | None]) -> str:
    return "{" + ",".join("NULL" if value is None else _quoted(value.isoformat()) for value in values) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


TRANSFER_TEXT_COLUMNS = frozenset(
    TransferRow._fields.index(name) for name in ("idempotency_key", "kind", "currency", "code", "reference")
)
TIMEOUT_COLUMN = TransferRow._fields.index("timeout_at")
ENTRY_SIDE_COLUMN = EntryRow._fields.index("side")


class PostgresStore:
    """PostgreSQL: array parameters and one statement per step, straight on the asyncpg driver.

    The first statement goes through SQLAlchemy so that its transaction (``BEGIN``) is started;
    every later one uses the driver connection of that same transaction, which skips SQLAlchemy's
    per-statement overhead on the hottest path of the product.
    """

    # The f-strings below only join constant column names; every value is a bound parameter.
    # ``IN (SELECT unnest(...))`` rather than ``= ANY(...)``: the array is expanded once, where a
    # cast array inside ANY can be re-evaluated per row (quadratic on a 20,000-key batch).
    # One statement, one round trip: the CTE ``referenced`` is read once and feeds both the lock
    # (its transfers' accounts) and the answer. Account rows fill the first ten columns of the
    # answer and transfer rows the last fourteen, so one result carries both. The key lookup is a
    # UNION ALL branch of its own rather than an OR in one WHERE, which would turn two index
    # lookups into a scan.
    LOCK = f"""
    WITH referenced AS MATERIALIZED (
        SELECT {TRANSFER_SELECT} FROM transfers WHERE id IN (SELECT unnest($2::TEXT::BIGINT[]))
    ), locked AS MATERIALIZED (
        SELECT {ACCOUNT_SELECT} FROM accounts
        WHERE id IN (SELECT unnest($1::TEXT::BIGINT[])
                     UNION SELECT debit_account_id FROM referenced
                     UNION SELECT credit_account_id FROM referenced)
        ORDER BY id FOR UPDATE
    )
    SELECT locked.*, {TRANSFER_NULLS} FROM locked
    UNION ALL SELECT {ACCOUNT_NULLS}, referenced.* FROM referenced
    UNION ALL SELECT {ACCOUNT_NULLS}, {TRANSFER_SELECT} FROM transfers
        WHERE idempotency_key IN (SELECT unnest($3::TEXT::TEXT[]))
    """  # noqa: S608 - the f-string only joins constant column names; values are bound parameters
    CLAIMED = (
        "SELECT pending_id, NULL::BIGINT FROM transfers"
        " WHERE pending_id IN (SELECT unnest($1::TEXT::BIGINT[]))"
        " UNION ALL SELECT NULL::BIGINT, reverses_id FROM transfers"
        " WHERE reverses_id IN (SELECT unnest($2::TEXT::BIGINT[]))"
    )
    # Every array travels as one text literal (see int_array) and is cast by the server. The ids
    # are drawn in the same statement: ``ids`` is computed once (MATERIALIZED), each ARRAY holds
    # its sequence's values in the order they were drawn, and rows pick theirs by position.
    # The CTEs' order is free (all run before the triggers check their rows at the statement's end);
    # entries come first so the statement's opening, all that pg_stat_activity keeps, names both
    # inserts.
    WRITE = """
    WITH ids AS MATERIALIZED (
        SELECT ARRAY(SELECT nextval('journal_ids') FROM generate_series(1, $2::INT)) AS journal,
               ARRAY(SELECT nextval('transfers_id_seq') FROM generate_series(1, $3::INT)) AS transfer
    ), new_entries AS (
        INSERT INTO entries (account_id, version, transfer_id, side, posted_amount, pending_amount,
                             balance_after, created_at)
        SELECT e.account_id, e.version, ids.transfer[e.transfer_number], e.side, e.posted_amount,
               e.pending_amount, e.balance_after, $1
        FROM ids, unnest($17::TEXT::BIGINT[], $18::TEXT::BIGINT[], $19::TEXT::BIGINT[], $20::TEXT::VARCHAR[],
                         $21::TEXT::BIGINT[], $22::TEXT::BIGINT[], $23::TEXT::BIGINT[])
             AS e(account_id, version, transfer_number, side, posted_amount, pending_amount, balance_after)
    ), new_transfers AS (
        INSERT INTO transfers (id, journal_id, idempotency_key, kind, debit_account_id, credit_account_id,
                               currency, amount, pending_id, reverses_id, timeout_at, rate_id, code,
                               reference, created_at)
        SELECT ids.transfer[t.number], ids.journal[t.journal_slot], t.idempotency_key, t.kind,
               t.debit_account_id, t.credit_account_id, t.currency, t.amount, t.pending_id, t.reverses_id,
               t.timeout_at, t.rate_id, t.code, t.reference, $1
        FROM ids, unnest($4::TEXT::BIGINT[], $5::TEXT::VARCHAR[], $6::TEXT::VARCHAR[], $7::TEXT::BIGINT[],
                         $8::TEXT::BIGINT[], $9::TEXT::VARCHAR[], $10::TEXT::BIGINT[], $11::TEXT::BIGINT[],
                         $12::TEXT::BIGINT[], $13::TEXT::TIMESTAMPTZ[], $14::TEXT::BIGINT[],
                         $15::TEXT::VARCHAR[], $16::TEXT::VARCHAR[])
             WITH ORDINALITY AS t(journal_slot, idempotency_key, kind, debit_account_id, credit_account_id,
                                  currency, amount, pending_id, reverses_id, timeout_at, rate_id, code,
                                  reference, number)
    ), counters AS (
        UPDATE accounts AS a
        SET debits_posted = u.debits_posted, credits_posted = u.credits_posted,
            debits_pending = u.debits_pending, credits_pending = u.credits_pending, version = u.version
        FROM unnest($24::TEXT::BIGINT[], $25::TEXT::BIGINT[], $26::TEXT::BIGINT[], $27::TEXT::BIGINT[],
                    $28::TEXT::BIGINT[], $29::TEXT::BIGINT[])
            AS u(id, debits_posted, credits_posted, debits_pending, credits_pending, version)
        WHERE a.id = u.id
    )
    SELECT transfer FROM ids
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._driver: Any = None

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        if self._driver is None:
            rows = list((await self.connection.exec_driver_sql(sql, args)).all())
            raw = await self.connection.get_raw_connection()
            self._driver = raw.driver_connection
            if not self._driver.is_in_transaction():
                raise RuntimeError("the posting connection is not inside a transaction")
            return rows
        return list(await self._driver.fetch(sql, *args))

    async def lock(
        self, account_ids: Iterable[int], transfer_ids: Iterable[int], keys: Iterable[str]
    ) -> Locked:
        rows = await self._fetch(self.LOCK, int_array(account_ids), int_array(transfer_ids), text_array(keys))
        width = len(AccountRow._fields)
        accounts = sorted(AccountRow(*row[:width]) for row in rows if row[0] is not None)
        return Locked(accounts, [StoredTransfer(*row[width:]) for row in rows if row[0] is None])

    async def claimed(
        self, pending_ids: Iterable[int], reversible_ids: Iterable[int]
    ) -> tuple[set[int], set[int]]:
        pending, reversible = sorted(pending_ids), sorted(reversible_ids)
        if not pending and not reversible:
            return set(), set()
        rows = await self._fetch(self.CLAIMED, int_array(pending), int_array(reversible))
        return {row[0] for row in rows if row[0] is not None}, {row[1] for row in rows if row[1] is not None}

    async def write(
        self,
        journal_count: int,
        transfers: Sequence[TransferRow],
        entries: Sequence[EntryRow],
        accounts: Sequence[tuple[int, int, int, int, int, int]],
        now: datetime,
    ) -> list[int]:
        """Ids, transfers, entries and counters in one statement of data-modifying CTEs."""
        t = _columns(transfers, len(TransferRow._fields))
        e = _columns(entries, len(EntryRow._fields))
        a = _columns(accounts, 6)
        transfer_arrays = [
            timestamp_array(column)
            if index == TIMEOUT_COLUMN
            else text_array(column)
            if index in TRANSFER_TEXT_COLUMNS
            else int_array(column)
            for index, column in enumerate(t)
        ]
        entry_arrays = [
            text_array(column) if index == ENTRY_SIDE_COLUMN else int_array(column)
            for index, column in enumerate(e)
        ]
        # through SQLAlchemy, so a constraint violation arrives as sqlalchemy.exc.IntegrityError
        parameters = (
            now,
            journal_count,
            len(transfers),
            *transfer_arrays,
            *entry_arrays,
            *(int_array(column) for column in a),
        )
        result = await self.connection.exec_driver_sql(self.WRITE, parameters)
        return list(result.scalar_one())


class SqliteStore:
    """SQLite: chunked ``IN`` lists and ``executemany``, under ``BEGIN IMMEDIATE``."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def _select_in(self, columns: list[Any], column: Any, values: Iterable[Any]) -> list[Any]:
        ordered = sorted(values)
        rows: list[Any] = []
        for chunk in _chunks(ordered):
            rows.extend((await self.connection.execute(select(*columns).where(column.in_(chunk)))).all())
        return rows

    async def lock(
        self, account_ids: Iterable[int], transfer_ids: Iterable[int], keys: Iterable[str]
    ) -> Locked:
        """Only reads: ``BEGIN IMMEDIATE`` already holds SQLite's single write lock."""
        referenced = [
            StoredTransfer(*row)
            for row in await self._select_in(TRANSFER_COLUMNS, transfers_table.c.id, transfer_ids)
        ]
        wanted = set(account_ids)
        wanted.update(account for t in referenced for account in (t.debit_account_id, t.credit_account_id))
        accounts = [
            AccountRow(*row) for row in await self._select_in(ACCOUNT_COLUMNS, accounts_table.c.id, wanted)
        ]
        by_key = await self._select_in(TRANSFER_COLUMNS, transfers_table.c.idempotency_key, keys)
        return Locked(accounts, referenced + [StoredTransfer(*row) for row in by_key])

    async def claimed(
        self, pending_ids: Iterable[int], reversible_ids: Iterable[int]
    ) -> tuple[set[int], set[int]]:
        pending, reverses = transfers_table.c.pending_id, transfers_table.c.reverses_id
        return (
            {row[0] for row in await self._select_in([pending], pending, pending_ids)},
            {row[0] for row in await self._select_in([reverses], reverses, reversible_ids)},
        )

    async def write(
        self,
        journal_count: int,
        transfers: Sequence[TransferRow],
        entries: Sequence[EntryRow],
        accounts: Sequence[tuple[int, int, int, int, int, int]],
        now: datetime,
    ) -> list[int]:
        """Ids from ``MAX(id)``: safe because the write lock is held, nobody else inserts until we commit."""
        execute = self.connection.execute
        last_journal = (
            await execute(select(func.coalesce(func.max(transfers_table.c.journal_id), 0)))
        ).scalar_one()
        last_transfer = (await execute(select(func.coalesce(func.max(transfers_table.c.id), 0)))).scalar_one()
        transfer_ids = list(range(last_transfer + 1, last_transfer + 1 + len(transfers)))
        await execute(
            transfers_table.insert(),
            [
                {
                    **dict(zip(TransferRow._fields[1:], row[1:], strict=True)),
                    "id": transfer_id,
                    "journal_id": last_journal + row.journal_slot,
                    "created_at": now,
                }
                for row, transfer_id in zip(transfers, transfer_ids, strict=True)
            ],
        )
        await execute(
            entries_table.insert(),
            [
                {
                    "account_id": row.account_id,
                    "version": row.version,
                    "transfer_id": transfer_ids[row.transfer_number - 1],
                    "side": row.side,
                    "posted_amount": row.posted_amount,
                    "pending_amount": row.pending_amount,
                    "balance_after": row.balance_after,
                    "created_at": now,
                }
                for row in entries
            ],
        )
        await execute(
            SQLITE_UPDATE_ACCOUNT,
            [
                {"a_id": i, "a_dp": dp, "a_cp": cp, "a_dpe": dpe, "a_cpe": cpe, "a_version": version}
                for i, dp, cp, dpe, cpe, version in accounts
            ],
        )
        return transfer_ids


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


async def connection_of(connection: AsyncConnection | AsyncSession) -> AsyncConnection:
    """The Core connection under a session, so ledger functions accept either."""
    if isinstance(connection, AsyncSession):
        return await connection.connection()
    return connection


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

"""SQL for the posting path, in bulk, with one flavour per backend.

PostgreSQL gets array parameters (``= ANY(:ids)``, ``unnest``) so a batch of any size is a fixed
handful of statements, and the four writes travel as one statement of data-modifying CTEs.
SQLite gets chunked ``IN`` lists and ``executemany``; it runs under ``BEGIN IMMEDIATE``, so it can
hand out ids from ``MAX(id)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, String, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

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


POSTGRESQL_WRITE = text(
    """
    WITH new_journals AS (
        INSERT INTO journals (id, code, description, created_at)
        SELECT j.id, j.code, j.description, CAST(:now AS TIMESTAMPTZ)
        FROM unnest(CAST(:j_id AS BIGINT[]), CAST(:j_code AS VARCHAR[]),
                    CAST(:j_description AS VARCHAR[]))
            AS j(id, code, description)
    ), new_transfers AS (
        INSERT INTO transfers (id, journal_id, idempotency_key, kind, debit_account_id, credit_account_id,
                               currency, amount, pending_id, reverses_id, timeout_at, rate_id, code,
                               reference, created_at)
        SELECT t.*, CAST(:now AS TIMESTAMPTZ)
        FROM unnest(CAST(:t_id AS BIGINT[]), CAST(:t_journal_id AS BIGINT[]), CAST(:t_key AS VARCHAR[]),
                    CAST(:t_kind AS VARCHAR[]), CAST(:t_debit AS BIGINT[]), CAST(:t_credit AS BIGINT[]),
                    CAST(:t_currency AS VARCHAR[]), CAST(:t_amount AS BIGINT[]),
                    CAST(:t_pending_id AS BIGINT[]),
                    CAST(:t_reverses_id AS BIGINT[]), CAST(:t_timeout_at AS TIMESTAMPTZ[]),
                    CAST(:t_rate_id AS BIGINT[]), CAST(:t_code AS VARCHAR[]),
                    CAST(:t_reference AS VARCHAR[])) AS t
    ), new_entries AS (
        INSERT INTO entries (account_id, version, transfer_id, side, posted_amount, pending_amount,
                             balance_after, created_at)
        SELECT e.*, CAST(:now AS TIMESTAMPTZ)
        FROM unnest(CAST(:e_account_id AS BIGINT[]), CAST(:e_version AS BIGINT[]),
                    CAST(:e_transfer_id AS BIGINT[]), CAST(:e_side AS VARCHAR[]),
                    CAST(:e_posted AS BIGINT[]), CAST(:e_pending AS BIGINT[]),
                    CAST(:e_balance AS BIGINT[])) AS e
    )
    UPDATE accounts AS a
    SET debits_posted = u.debits_posted, credits_posted = u.credits_posted,
        debits_pending = u.debits_pending, credits_pending = u.credits_pending, version = u.version
    FROM unnest(CAST(:a_id AS BIGINT[]), CAST(:a_dp AS BIGINT[]), CAST(:a_cp AS BIGINT[]),
                CAST(:a_dpe AS BIGINT[]), CAST(:a_cpe AS BIGINT[]), CAST(:a_version AS BIGINT[]))
        AS u(id, debits_posted, credits_posted, debits_pending, credits_pending, version)
    WHERE a.id = u.id
    """
)

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
        j = _columns(journals, 3)
        t = _columns(transfers, len(TransferRow._fields))
        e = _columns(entries, len(EntryRow._fields))
        a = _columns(accounts, 6)
        parameters: dict[str, Any] = {"now": now}
        parameters.update(zip(("j_id", "j_code", "j_description"), j, strict=True))
        parameters.update(
            zip(
                (
                    "t_id", "t_journal_id", "t_key", "t_kind", "t_debit", "t_credit", "t_currency",
                    "t_amount", "t_pending_id", "t_reverses_id", "t_timeout_at", "t_rate_id", "t_code",
                    "t_reference",
                ),
                t,
                strict=True,
            )
        )  # fmt: skip
        parameters.update(
            zip(
                (
                    "e_account_id",
                    "e_version",
                    "e_transfer_id",
                    "e_side",
                    "e_posted",
                    "e_pending",
                    "e_balance",
                ),
                e,
                strict=True,
            )
        )
        parameters.update(zip(("a_id", "a_dp", "a_cp", "a_dpe", "a_cpe", "a_version"), a, strict=True))
        await connection.execute(POSTGRESQL_WRITE, parameters)
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

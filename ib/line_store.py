"""Commission lines as stored: read a set of deals' lines, diff new lines against them, write the
difference.

A line is unique on (deal, beneficiary, rule). A line that no longer applies goes to zero rather
than away, so its provenance stays; every change bumps the line's revision. A planned rule's line
names its plan's basis (:mod:`ib.line_basis`) instead of storing its inputs and formula; the
bases a write names are saved in the same transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ib.line_basis import BasisNamer, save_bases
from ib.line_copy import COLUMNS as COPY_COLUMNS
from ib.line_copy import LineRows, copy_stream
from ib.models import CommissionLine
from ib.rules.base import Line, RememberedInputsJson
from ib.snapshot import among, chunked

LineKey = tuple[int, int, int]
"""(deal id, beneficiary id, rule id): what a commission line is unique on, and its primary key."""
StoredLine = tuple[int, str, int]
"""(amount, currency, revision) of a stored line."""
KEY_COLUMNS = ("deal_id", "beneficiary_id", "rule_id")


def key_values(key: LineKey) -> dict[str, int]:
    """A line's key as the columns of a :attr:`LineDiff.updates` entry."""
    return dict(zip(KEY_COLUMNS, key, strict=True))


def update_key(update: Mapping[str, Any]) -> LineKey:
    """The key of the line a :attr:`LineDiff.updates` entry changes."""
    deal_id, beneficiary_id, rule_id = (update[name] for name in KEY_COLUMNS)
    return (deal_id, beneficiary_id, rule_id)


@dataclass
class LineDiff:
    """New lines against stored ones for a set of deals."""

    inserts: list[tuple[int, Line]] = field(default_factory=list)
    """(deal id, line) of each new line, unless they went straight to the database (:func:`write_diff`)."""
    inserted: int = 0
    """How many new lines there are, kept or not."""
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Changed columns of stored lines, each with the line's key (:data:`KEY_COLUMNS`)."""
    deltas: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    bases: BasisNamer = field(default_factory=BasisNamer)
    """The bases the inserted and updated lines name."""

    @property
    def empty(self) -> bool:
        return not self.inserted and not self.updates


async def stored_lines(
    session: AsyncSession, deal_ids: Sequence[int], *, between: tuple[datetime, datetime] | None = None
) -> dict[LineKey, StoredLine]:
    """(deal, beneficiary, rule) -> (amount, currency, revision) of the deals' lines.

    ``between`` (the first and last of the deals' times, both included) lets SQLite read them with
    one range scan of its deal-time index instead of lists of ids: a recompute's page holds every
    deal of its time range. PostgreSQL's deal-time index is a BRIN index, whose newest block
    ranges stay unsummarised (so scanned whole) until autovacuum gets to them; there the lines are
    read by deal id from the primary key's index, whose order is the deal's.
    """
    c = CommissionLine.__table__.c
    columns = select(c.deal_id, c.beneficiary_id, c.rule_id, c.amount, c.currency, c.revision)
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        return await _stored_lines_postgresql(connection, deal_ids)
    if between is not None:
        statements = [columns.where(c.deal_time >= between[0], c.deal_time <= between[1])]
    else:
        statements = [columns.where(condition) for condition in among(session, c.deal_id, sorted(deal_ids))]
    wanted = set(deal_ids)
    out: dict[LineKey, StoredLine] = {}
    for statement in statements:
        for deal_id, beneficiary, rule_id, amount, currency, revision in (
            await connection.execute(statement)
        ).all():
            if deal_id in wanted:
                out[(deal_id, beneficiary, rule_id)] = (amount, currency, revision)
    return out


STORED_LINES_SQL = (
    "SELECT deal_id, beneficiary_id, rule_id, amount, currency, revision FROM ib_commission_line"
    " WHERE deal_id = ANY($1::bigint[])"
)


async def _stored_lines_postgresql(
    connection: AsyncConnection, deal_ids: Sequence[int]
) -> dict[LineKey, StoredLine]:
    """:func:`stored_lines` on the transaction's own driver connection: a recompute reads every line
    of its period, and the driver's records cost a fraction of SQLAlchemy rows."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    rows = await driver.fetch(STORED_LINES_SQL, list(deal_ids))
    return {
        (deal_id, beneficiary, rule_id): (amount, currency, revision)
        for deal_id, beneficiary, rule_id, amount, currency, revision in rows
    }


def diff_lines(
    lines: Iterable[Line],
    deal_ids_by_ticket: Mapping[tuple[str, int], int],
    stored: Mapping[LineKey, StoredLine],
    now: datetime,
) -> LineDiff:
    diff = LineDiff()
    for _insert in iter_diff(diff, lines, deal_ids_by_ticket, stored, now):
        pass
    return diff


def iter_diff(
    diff: LineDiff,
    lines: Iterable[Line],
    deal_ids_by_ticket: Mapping[tuple[str, int], int],
    stored: Mapping[LineKey, StoredLine],
    now: datetime,
    *,
    keep_inserts: bool = True,
) -> Iterator[tuple[int, Line]]:
    """Fill ``diff`` with new ``lines`` against ``stored`` ones, yielding each insert as it is found.

    A generator, so that the lines can be computed while the inserts found so far are already on
    their way to the database (:func:`write_diff`); ``diff`` is complete once it is exhausted.
    Without ``keep_inserts`` the inserts are only counted, so each line is freed once it is written
    (a feed batch's some eighty thousand otherwise all died at once, at the end).
    """
    deltas = diff.deltas
    if not stored:
        # New deals only (the engine's usual batch): every line is an insert. A deal's lines come
        # one after another, so its id is looked up once per deal, not per line.
        inserts = diff.inserts
        ticket: tuple[str, int] | None = None
        deal_id = 0
        count = 0
        for line in lines:
            if ticket is None or line.ticket != ticket[1] or line.server != ticket[0]:
                ticket = (line.server, line.ticket)
                deal_id = deal_ids_by_ticket[ticket]
            pair = (deal_id, line)
            if keep_inserts:
                inserts.append(pair)
            count += 1
            deltas[(line.beneficiary_id, line.currency)] += line.amount
            yield pair
        diff.inserted = count
        diff.deltas = {key: value for key, value in deltas.items() if value != 0}
        return
    seen: set[LineKey] = set()
    for line in lines:
        deal_id = deal_ids_by_ticket[(line.server, line.ticket)]
        key = (deal_id, line.beneficiary_id, line.rule_id)
        seen.add(key)
        found = stored.get(key)
        if found is None:
            if keep_inserts:
                diff.inserts.append((deal_id, line))
            diff.inserted += 1
            deltas[(line.beneficiary_id, line.currency)] += line.amount
            yield deal_id, line
        elif found[0] != line.amount:
            basis_id, inputs, formula = diff.bases.provenance(line)
            diff.updates.append(
                {
                    **key_values(key),
                    "revision": found[2] + 1,
                    "amount": line.amount,
                    "basis_id": basis_id,
                    "inputs": None if inputs is None else dict(inputs),
                    "formula": formula,
                    "level": line.level,
                    "rank_code": line.rank,
                    "scheme_version_id": line.scheme_version_id,
                    "deal_time": line.deal_time,
                    "trader_client_id": line.trader_client_id,
                    "computed_at": now,
                }
            )
            deltas[(line.beneficiary_id, found[1])] += line.amount - found[0]
    for key, (amount, currency, revision) in stored.items():
        if key not in seen and amount != 0:
            diff.updates.append(
                {
                    **key_values(key),
                    "amount": 0,
                    "revision": revision + 1,
                    "formula": f"no longer applies (was {amount})",
                    "computed_at": now,
                }
            )
            deltas[(key[1], currency)] -= amount
    diff.deltas = {key: value for key, value in deltas.items() if value != 0}


LINE_COLUMNS = (
    "deal_id", "beneficiary_id", "rule_id", "scheme_version_id", "rule_code", "kind", "level", "rank_code",
    "trader_client_id", "deal_time", "currency", "amount", "basis_id", "inputs", "formula", "revision",
    "computed_at",
)  # fmt: skip


def _line_records(
    inserts: Iterable[tuple[int, Line]], now: datetime, bases: BasisNamer
) -> Iterator[tuple[Any, ...]]:
    """New lines as rows of :data:`LINE_COLUMNS`: a basis id, or their inputs encoded as JSON text."""
    encoded = RememberedInputsJson()
    for deal_id, line in inserts:
        basis_id, inputs, formula = bases.provenance(line)
        text = None if inputs is None else encoded(inputs)
        yield (
            deal_id, line.beneficiary_id, line.rule_id, line.scheme_version_id, line.rule_code,
            line.kind, line.level, line.rank, line.trader_client_id, line.deal_time, line.currency,
            line.amount, basis_id, text, formula, 1, now,
        )  # fmt: skip


async def _copy_lines(
    connection: AsyncConnection, inserts: Iterable[tuple[int, Line]], now: datetime, bases: BasisNamer
) -> None:
    """Binary COPY on the transaction's own driver connection: same constraints and triggers as
    INSERT, far fewer round trips. The rows are encoded here (:mod:`ib.line_copy`) and sent as
    they come, a chunk at a time."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    stream = copy_stream(LineRows(now, bases), inserts)
    await driver.copy_to_table("ib_commission_line", source=stream, columns=COPY_COLUMNS, format="binary")


async def _insert_lines(
    session: AsyncSession, inserts: Sequence[tuple[int, Line]], now: datetime, bases: BasisNamer
) -> None:
    """New lines by INSERT (SQLite): the ORM's JSON column takes the inputs as a mapping."""
    rows = []
    for record in _line_records(inserts, now, bases):
        row = dict(zip(LINE_COLUMNS, record, strict=True))
        if row["inputs"] is not None:
            row["inputs"] = json.loads(row["inputs"])
        rows.append(row)
    for chunk in chunked(rows, 2000):
        await session.execute(insert(CommissionLine), list(chunk))


async def write_lines(session: AsyncSession, diff: LineDiff, now: datetime) -> None:
    """Insert new lines and update changed ones (on PostgreSQL new lines go in by COPY), and save
    the bases they name."""
    if diff.inserted != len(diff.inserts):
        raise ValueError("this diff's new lines were streamed to the database, not kept for writing")
    if diff.inserts:
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            await _copy_lines(connection, diff.inserts, now, diff.bases)
        else:
            await _insert_lines(session, diff.inserts, now, diff.bases)
    if diff.updates:
        await session.execute(update(CommissionLine), diff.updates)
    await save_bases(session, diff.bases.bases)


async def write_diff(
    session: AsyncSession,
    lines: Iterable[Line],
    deal_ids_by_ticket: Mapping[tuple[str, int], int],
    stored: Mapping[LineKey, StoredLine],
    now: datetime,
) -> LineDiff:
    """:func:`diff_lines` and :func:`write_lines` in one pass.

    On PostgreSQL the new lines stream into the COPY while ``lines`` (an iterator: the engine's
    calculation) is still being computed, so the database stores one buffer of lines while the
    next is calculated; an error in the calculation aborts the COPY and so the transaction.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        diff = diff_lines(lines, deal_ids_by_ticket, stored, now)
        await write_lines(session, diff, now)
        return diff
    diff = LineDiff()
    new_lines = iter_diff(diff, lines, deal_ids_by_ticket, stored, now, keep_inserts=False)
    await _copy_lines(connection, new_lines, now, diff.bases)
    if diff.updates:
        await session.execute(update(CommissionLine), diff.updates)
    await save_bases(session, diff.bases.bases)
    return diff

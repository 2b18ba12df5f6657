"""The engine's own binary COPY encoding (ib.line_copy) read back by PostgreSQL: every column of
every line as written, across chunk boundaries, with NULLs, non-ASCII text, microseconds and a
deal time given in another time zone.

SQLite inserts lines with INSERT, so the module runs on the PostgreSQL pass of the suite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from core.db import Database
from ib.line_basis import BasisNamer
from ib.line_copy import CHUNK_BYTES, COLUMNS, LineRows, copy_stream
from ib.rules import fixed, overriding
from ib.rules.base import DealFacts, Deferred, Explained, Line, inputs_json
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="binary COPY is PostgreSQL's"),
    pytest.mark.postgres_only,
]

NOW = datetime(2026, 11, 30, 23, 59, 59, 123456, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))


def _line(n: int) -> Line:
    moment = datetime(2026, 11, 3, 9, 15, 7, 654321, tzinfo=TOKYO) + timedelta(seconds=n // 16)
    return Line(
        server="mt5-live",
        ticket=1000 + n // 16,
        trader_client_id=7_000_000_000 + n // 16,
        deal_time=moment,
        beneficiary_id=n % 16 + 1,
        level=n % 5,
        rank=("gold", None, "白银")[n % 3],
        rule_id=40 + n % 7,
        rule_code=f"rule-{n % 7}",
        kind="per_level" if n % 2 else "cpa",
        scheme_version_id=3,
        currency="USD",
        amount=n * 1_000_003,
        why=Explained(inputs=(("lots", f"{n}.25"), ("说明", '每手 "8"')), formula=f"{n} * 8 = 佣金"),
    )


async def test_every_column_reads_back_as_written(db: Database) -> None:
    lines = [(500 + n // 16, _line(n)) for n in range(3_000)]  # about 600 KB: several chunks
    chunks = [chunk async for chunk in copy_stream(LineRows(NOW, BasisNamer()), lines)]
    assert len(chunks) > 1
    assert all(len(chunk) < 2 * CHUNK_BYTES for chunk in chunks)
    rows = await _copied(db, chunks)
    assert len(rows) == len(lines)
    for row, (deal_id, line) in zip(rows, lines, strict=True):
        assert dict(row) == {
            "deal_id": deal_id,
            "trader_client_id": line.trader_client_id,
            "deal_time": line.deal_time,
            "beneficiary_id": line.beneficiary_id,
            "rule_id": line.rule_id,
            "level": line.level,
            "amount": line.amount,
            "scheme_version_id": 3,
            "rule_code": line.rule_code,
            "kind": line.kind,
            "currency": "USD",
            "rank_code": line.rank,
            "basis_id": None,
            "inputs": json.loads(inputs_json(line.inputs)),  # the connection decodes json
            "formula": line.formula,
            "revision": 1,
            "computed_at": NOW,
        }


async def test_lines_freed_as_they_stream_keep_their_own_explanations(db: Database) -> None:
    """The engine frees each line once it is encoded, so a new explanation may take the memory
    (and identity) of a freed one: it must still be encoded as itself."""

    def streamed() -> Iterator[tuple[int, Line]]:
        for n in range(2_000):  # each line, and its explanation, made here and dropped once written
            yield 900 + n, _line(n)._replace(amount=n + 1)

    rows = await _copied(db, [chunk async for chunk in copy_stream(LineRows(NOW, BasisNamer()), streamed())])
    assert len(rows) == 2_000
    for n, row in enumerate(rows):
        line = _line(n)
        assert row["amount"] == n + 1
        assert row["inputs"] == json.loads(inputs_json(line.inputs)), n
        assert row["formula"] == line.formula


def _deal(n: int, digits: int) -> DealFacts:
    return DealFacts(
        server="mt5-live", ticket=2000 + n, client_id=9_000 + n, account_type="standard",
        account_currency="USD", symbol="EURUSD", symbol_group="forex", symbol_digits=digits,
        lots=Decimal(n + 1) / 10, contract_size=Decimal(100_000), profit=0, platform_commission=0,
        currency_digits=2, time=datetime(2026, 11, 3, 9, 0, n, tzinfo=UTC), opened_at=None,
    )  # fmt: skip


def _planned(n: int, arguments: tuple[object, ...], beneficiary: int, level: int, digits: int) -> Line:
    deal = _deal(n, digits)
    return Line(
        deal.server, deal.ticket, deal.client_id, deal.time, beneficiary, level, "gold" if level else None,
        41, "fx", "fixed", 3, "USD", 100 * n + beneficiary, Deferred(fixed.explain, deal, arguments),
    )  # fmt: skip


def _overriding(n: int, downline: int, beneficiary: int) -> Line:
    deal = _deal(n, 5)
    why = Deferred(overriding.explain, deal, (Decimal(n), downline, Decimal("10")))
    return Line(
        deal.server, deal.ticket, deal.client_id, deal.time, beneficiary, 2, None,
        42, "ovr", "overriding", 3, "USD", 7 + n, why,
    )  # fmt: skip


async def test_lines_of_one_plan_share_their_packed_basis_and_keep_their_own_figures(db: Database) -> None:
    """A plan's lines repeat everything but the deal and the amount from one deal to the next, and
    the encoder packs that part once per plan line: the same beneficiary, rule and arguments at
    another level or another symbol's digits, or an overriding line for another sub-IB, must not
    take it over."""
    arguments = (800, 800, 0, None)
    other = (800, 600, 200, 5)
    lines: list[tuple[int, Line]] = []
    for n in range(40):
        lines.append((700 + n, _planned(n, arguments, 1, 1, 5)))
        lines.append((700 + n, _planned(n, arguments, 1, 2, 5)))  # another level
        lines.append((700 + n, _planned(n, arguments, 1, 1, 2)))  # another symbol's digits
        lines.append((700 + n, _planned(n, other, 2, 1, 5)))
        lines.append((700 + n, _overriding(n, 2, 1)))
        lines.append((700 + n, _overriding(n, 3, 1)))
    lines = [(deal_id, line._replace(amount=i + 1)) for i, (deal_id, line) in enumerate(lines)]
    namer = BasisNamer()
    chunks = [chunk async for chunk in copy_stream(LineRows(NOW, namer), lines)]
    rows = await _copied(db, chunks)
    expected = namer.bases
    assert len(expected) == 5  # two argument sets at two digits' worth, less one, and two overridings
    by_amount = {row["amount"]: row for row in rows}  # each line's amount is its own
    assert len(by_amount) == len(lines) == len(rows)
    for deal_id, line in lines:
        row = by_amount[line.amount]
        assert isinstance(line.why, Deferred)
        assert row["basis_id"] == namer.basis_id(line.why)
        assert row["rank_code"] == line.rank
        assert (row["deal_id"], row["beneficiary_id"]) == (deal_id, line.beneficiary_id)
        assert row["level"] == line.level
        assert (row["trader_client_id"], row["deal_time"]) == (line.trader_client_id, line.deal_time)
        assert (row["inputs"], row["formula"], row["rule_id"]) == (None, None, line.rule_id)


async def _copied(db: Database, chunks: list[bytes]) -> list[Any]:
    """``chunks`` copied by PostgreSQL into a table like the lines', read back in amount order."""
    async with db.transaction() as session:
        await session.execute(text("SELECT 1"))  # the transaction has begun on the driver's connection
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.execute(
            "CREATE TEMP TABLE copied (LIKE ib_commission_line INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        await driver.copy_to_table("copied", source=_replay(chunks), columns=COLUMNS, format="binary")
        return list(await driver.fetch(f"SELECT {', '.join(COLUMNS)} FROM copied ORDER BY amount"))


async def _replay(chunks: list[bytes]) -> Any:
    for chunk in chunks:
        yield chunk

"""The engine's own binary COPY encoding (ib.line_copy) read back by PostgreSQL: every column of
every line as written, across chunk boundaries, with NULLs, non-ASCII text, microseconds and a
deal time given in another time zone.

SQLite inserts lines with INSERT, so the module runs on the PostgreSQL pass of the suite.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from core.db import Database
from ib.line_basis import BasisNamer
from ib.line_copy import CHUNK_BYTES, COLUMNS, LineRows, copy_stream
from ib.rules.base import Explained, Line, inputs_json
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
    async with db.transaction() as session:
        await session.execute(text("SELECT 1"))  # the transaction has begun on the driver's connection
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.execute(
            "CREATE TEMP TABLE copied (LIKE ib_commission_line INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        await driver.copy_to_table("copied", source=_replay(chunks), columns=COLUMNS, format="binary")
        rows = await driver.fetch(f"SELECT {', '.join(COLUMNS)} FROM copied ORDER BY amount")
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


async def _replay(chunks: list[bytes]) -> Any:
    for chunk in chunks:
        yield chunk

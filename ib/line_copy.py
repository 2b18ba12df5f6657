"""New commission lines as PostgreSQL's binary COPY stream, encoded here rather than by the driver.

The engine writes some sixteen lines per deal, and most of each line repeats: the deal's id,
trader and time are the same for all of its lines, the rule's version, code, kind and currency
for every line of that rule, the revision and computation time for the whole batch. The driver's
generic encoder converted every value of every line again, its timestamps through timezone
arithmetic (about 1.3 µs each, two per line), which was the largest part of the engine's own
work. Here each repeating part is packed once and reused as bytes.

The layout is PostgreSQL's binary COPY format: a signature and two 32-bit zeros, then per row a
16-bit field count and per field a 32-bit length (-1 for NULL) and the value in network order;
``bigint`` is 8 bytes, ``timestamptz`` microseconds since 2000-01-01 UTC in 8 bytes, ``varchar``,
``text`` and ``json`` their UTF-8 bytes. A trailer of -1 ends the stream.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ib.line_basis import BasisNamer
from ib.rules.base import Deferred, Line, RememberedInputsJson

COLUMNS = (
    "deal_id", "trader_client_id", "deal_time",
    "beneficiary_id", "rule_id", "level",
    "scheme_version_id", "rule_code", "kind", "currency",
    "rank_code", "basis_id", "inputs", "formula",
    "revision", "computed_at",
    "amount",
)  # fmt: skip
"""The columns in the order each row packs them: per deal, then what a plan's line repeats from
one deal to the next (see :meth:`LineRows.row`), then the amount."""

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
NULL = struct.pack("!i", -1)
CHUNK_BYTES = 256 * 1024
"""How much of the stream is handed to the driver at a time: the database stores one chunk while
the next is being calculated."""

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DEAL = struct.Struct("!hiqiqiq")  # field count, deal id, trader, deal time
_THREE_BIGINTS = struct.Struct("!iqiqiq")
_BIGINT = struct.Struct("!iq")
_LENGTH = struct.Struct("!i")


def timestamp_micros(moment: datetime) -> int:
    """``timestamptz``'s binary value: microseconds since 2000-01-01 UTC (``moment`` is aware)."""
    return (moment - _PG_EPOCH) // _MICROSECOND


def _text(value: str | None) -> bytes:
    if value is None:
        return NULL
    encoded = value.encode()
    return _LENGTH.pack(len(encoded)) + encoded


class LineRows:
    """Encodes one batch's new lines, remembering each repeated part as bytes."""

    def __init__(self, now: datetime, bases: BasisNamer) -> None:
        self.bases = bases
        self.tail = _BIGINT.pack(8, 1) + _BIGINT.pack(8, timestamp_micros(now))  # revision 1, computed_at
        self._rules: dict[tuple[int, str, str, str], bytes] = {}
        self._ranks: dict[str | None, bytes] = {None: NULL}
        self._bases: dict[int | None, bytes] = {None: NULL}
        self._inputs_json = RememberedInputsJson()
        self._deal: tuple[int, int, datetime] | None = None
        self._deal_bytes = b""
        self._middles: dict[tuple[Any, ...], bytes] = {}

    def row(self, deal_id: int, line: Line) -> bytes:
        deal = (deal_id, line.trader_client_id, line.deal_time)
        if deal != self._deal:
            self._deal = deal
            self._deal_bytes = _DEAL.pack(
                len(COLUMNS), 8, deal_id, 8, line.trader_client_id, 8, timestamp_micros(line.deal_time)
            )
        return b"".join((self._deal_bytes, self._middle(line), _BIGINT.pack(8, line.amount)))

    def _middle(self, line: Line) -> bytes:
        """Everything of a row between the deal's fields and the amount.

        A line explained by a basis repeats it exactly for every deal of its plan, so it is packed
        once per plan line (see :meth:`BasisNamer.plan_line_key`). Other lines carry their own
        explanation and are packed every time.
        """
        why = line.why
        if type(why) is not Deferred:
            return self._packed_middle(line)
        key = self.bases.plan_line_key(line)
        middle = self._middles.get(key)
        if middle is None:
            if self.bases.basis_id(why) is None:  # no basis: the explanation is the line's own
                return self._packed_middle(line)
            middle = self._middles[key] = self._packed_middle(line)
        return middle

    def _packed_middle(self, line: Line) -> bytes:
        rule_key = (line.scheme_version_id, line.rule_code, line.kind, line.currency)
        rule = self._rules.get(rule_key)
        if rule is None:
            rule = self._rules[rule_key] = (
                _BIGINT.pack(8, line.scheme_version_id)
                + _text(line.rule_code)
                + _text(line.kind)
                + _text(line.currency)
            )
        rank = self._ranks.get(line.rank)
        if rank is None:
            rank = self._ranks[line.rank] = _text(line.rank)
        return b"".join(
            (
                _THREE_BIGINTS.pack(8, line.beneficiary_id, 8, line.rule_id, 8, line.level),
                rule,
                rank,
                self._provenance(line),
                self.tail,
            )
        )

    def _provenance(self, line: Line) -> bytes:
        """basis_id, inputs and formula: a basis (with the other two NULL), or the line's own."""
        basis_id, inputs, formula = self.bases.provenance(line)
        if basis_id is not None:
            encoded = self._bases.get(basis_id)
            if encoded is None:
                encoded = self._bases[basis_id] = _BIGINT.pack(8, basis_id) + NULL + NULL
            return encoded
        assert inputs is not None
        return NULL + _text(self._inputs_json(inputs)) + _text(formula)


async def copy_stream(rows: LineRows, inserts: Iterable[tuple[int, Line]]) -> AsyncIterator[bytes]:
    """The COPY stream of ``inserts`` (deal id, line), a chunk at a time."""
    chunk = [SIGNATURE]
    size = len(SIGNATURE)
    for deal_id, line in inserts:
        row = rows.row(deal_id, line)
        chunk.append(row)
        size += len(row)
        if size >= CHUNK_BYTES:
            yield b"".join(chunk)
            chunk = []
            size = 0
    chunk.append(TRAILER)
    yield b"".join(chunk)

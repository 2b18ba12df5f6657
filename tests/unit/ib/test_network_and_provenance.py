"""The calculation's shortcuts give exactly what the long way gives: the upline remembered per
stretch of unchanged tree, and provenance JSON written from the pairs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ib.network import Network, Span, Terms
from ib.rules.base import VersionSnapshot, inputs_json

T0 = datetime(2026, 10, 1, tzinfo=UTC)
MOVE = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def network() -> Network:
    """A (1) and B (2) at the top; C (3) under A until MOVE, then under B; client 100 is C's."""
    version = VersionSnapshot(10, 1, "USD", T0, ())
    return Network(
        partners={1: (901, T0), 2: (902, T0), 3: (903, T0)},
        client_links={100: [Span(T0, None, 3)]},
        partner_edges={3: [Span(T0, MOVE, 1), Span(MOVE, None, 2)]},
        terms={pid: [Terms(T0, 1, None)] for pid in (1, 2, 3)},
        versions={1: [version]},
        allocations={},
        rank_positions={},
    )


def test_the_remembered_upline_follows_a_move_to_the_microsecond() -> None:
    tree = network()
    for moment in (
        MOVE - timedelta(days=1),
        MOVE - timedelta(microseconds=1),
        MOVE,
        MOVE + timedelta(days=1),
    ):
        upline, version = tree.governing(100, moment)
        assert upline == tree.upline(100, moment)
        assert version is not None
        assert version.id == 10
    assert [m.partner_id for m in tree.governing(100, MOVE - timedelta(microseconds=1))[0]] == [3, 1]
    assert [m.partner_id for m in tree.governing(100, MOVE)[0]] == [3, 2]
    assert tree.governing(100, T0 - timedelta(seconds=1)) == ((), None)


def test_inputs_json_is_what_json_dumps_writes() -> None:
    inputs = (("lots", "0.35"), ("rank", 'gold "Ω"'), ("exact", "245"))
    assert inputs_json(inputs) == json.dumps(dict(inputs))
    assert json.loads(inputs_json(inputs)) == dict(inputs)

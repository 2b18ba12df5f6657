"""The process clock can be set to a past moment for a block, and the MT5 emulator follows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core import clock
from mt_bridge.emulator.config import load_config
from mt_bridge.emulator.state import TradeServer


def test_set_to_moves_the_clock_for_the_block_only_and_it_keeps_ticking() -> None:
    past = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    with clock.set_to(past):
        first = clock.utcnow()
        assert past <= first < past + timedelta(seconds=5)
        with clock.set_to(past + timedelta(days=3)):
            assert clock.utcnow() >= past + timedelta(days=3)
        assert clock.utcnow() < past + timedelta(days=1)
        assert clock.utcnow() >= first
    assert abs(clock.utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_the_emulator_clock_follows_the_process_clock_and_never_goes_back() -> None:
    config = load_config()
    server = TradeServer(config)
    offset_ms = config.time_offset_minutes * 60_000
    past = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    with clock.set_to(past):
        then = server.now_msc()
    assert abs(then - offset_ms - int(past.timestamp() * 1000)) < 5_000
    now = server.now_msc()
    assert now - offset_ms >= int((datetime.now(UTC) - timedelta(seconds=5)).timestamp() * 1000)
    with clock.set_to(past):
        assert server.now_msc() >= now  # a server's clock never runs backwards

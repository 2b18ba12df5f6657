"""A seeded trade simulator: funded accounts open, add to, partly close, close and reverse.

Each :meth:`TradeSimulator.step` moves prices and lets each funded account trade with the
configured probability, so a run with the same seed and the same accounts gives the same deals.
"""

from __future__ import annotations

import random
from decimal import Decimal

from mt_bridge.emulator.config import SimulatorConfig
from mt_bridge.emulator.state import DealRecord, Refusal, TradeServer, ext_to_lots
from mt_bridge.emulator.trading import close_position, market_deal, rollover
from mt_bridge.records import PositionSide

ROLLOVER_EVERY_STEPS = 50
"""One simulated trading day is this many steps: swaps are charged then."""
LOT_STEP = Decimal("0.01")


class TradeSimulator:
    """Drives trading on every funded account of a :class:`TradeServer`."""

    def __init__(self, server: TradeServer, config: SimulatorConfig, seed: int) -> None:
        self._server = server
        self._config = config
        self._rng = random.Random(seed)
        self.steps = 0

    def step(self) -> list[DealRecord]:
        """Move prices, let accounts trade, charge swaps at each rollover; returns the new deals."""
        self.steps += 1
        self._server.market.advance()
        made: list[DealRecord] = []
        for login in sorted(self._server.users):
            user = self._server.users[login]
            if user.balance <= 0 or not self._server.market.names:
                continue
            if self._rng.random() >= float(self._config.trade_probability):
                continue
            deal = self._trade(login)
            if deal is not None:
                made.append(deal)
        if self.steps % ROLLOVER_EVERY_STEPS == 0:
            rollover(self._server)
        return made

    def run(self, steps: int) -> list[DealRecord]:
        """Run ``steps`` steps; returns every deal they made."""
        made: list[DealRecord] = []
        for _ in range(steps):
            made += self.step()
        return made

    def _trade(self, login: int) -> DealRecord | None:
        server = self._server
        group = server.group_of(login)
        open_positions = [p for p in server.positions.values() if p.login == login]
        try:
            if open_positions and self._rng.random() < 0.5:
                position = self._rng.choice(open_positions)
                held = ext_to_lots(position.volume_ext)
                opposite = PositionSide.SELL if position.side == PositionSide.BUY else PositionSide.BUY
                roll = self._rng.random()
                if group.netting and roll < 0.3:
                    return market_deal(server, login, position.symbol, opposite, held * 2)
                if roll < 0.6 and held > LOT_STEP:
                    part = max(LOT_STEP, (held / 2).quantize(LOT_STEP))
                    return close_position(server, position.ticket, part)
                return close_position(server, position.ticket)
            symbol = self._rng.choice(server.market.names)
            side = self._rng.choice([PositionSide.BUY, PositionSide.SELL])
            lots = self._rng.choice(self._config.volumes)
            if not self._can_afford(login, symbol, lots):
                return None
            return market_deal(server, login, symbol, side, lots)
        except Refusal:
            return None

    def _can_afford(self, login: int, symbol: str, lots: Decimal) -> bool:
        """Keep at least half the free margin: the simulator's traders are not reckless."""
        server = self._server
        user = server.user(login)
        group = server.group(user.group)
        state = server.account_state(login)
        config = server.market.symbol(symbol)
        base = symbol[:3].upper()
        try:
            needed = lots * config.contract_size * server.market.rate(base, group.currency) / user.leverage
        except KeyError:
            return False
        return needed <= state.margin_free / 2

"""Fault injection: make the emulator fail the way real networks and servers do, on purpose.

Random faults follow :class:`FaultConfig` rates with a seeded generator; tests can also queue
one-shot faults for the next request to a given endpoint.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from mt_bridge.emulator.config import FaultConfig


class FaultKind(StrEnum):
    """What goes wrong."""

    DELAY = "delay"
    """Apply the request, then answer only after a delay (a client timeout after commit)."""
    DROP_AFTER_APPLY = "drop_after_apply"
    """Apply the request, then drop the connection without answering."""
    DROP_BEFORE_APPLY = "drop_before_apply"
    """Drop the connection without applying or answering."""
    ERROR = "error"
    """Refuse with a retcode without applying anything."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to inflict on one request."""

    kind: FaultKind
    retcode: int = 0
    delay_seconds: float = 0.0


class FaultInjector:
    """Decides, request by request, whether a fault strikes."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(seed)
        self._queued: dict[str, deque[Fault]] = {}
        self.inflicted: list[tuple[str, FaultKind]] = []
        """Every fault inflicted, in order, for tests to compare with what they saw."""

    def queue(self, path: str, fault: Fault) -> None:
        """Make the next request to ``path`` suffer ``fault``."""
        self._queued.setdefault(path, deque()).append(fault)

    def configure(self, config: FaultConfig) -> None:
        """Replace the random fault rates."""
        self.config = config

    def decide(self, path: str) -> Fault | None:
        """The fault for this request to ``path``, if any."""
        queued = self._queued.get(path)
        fault: Fault | None = None
        if queued:
            fault = queued.popleft()
        elif self.config.covers(path):
            roll = self._rng.random()
            if roll < self.config.error_rate:
                fault = Fault(FaultKind.ERROR, retcode=self.config.error_retcode)
            elif roll < self.config.error_rate + self.config.drop_after_apply_rate:
                fault = Fault(FaultKind.DROP_AFTER_APPLY)
            elif self.config.delay_seconds > 0:
                fault = Fault(FaultKind.DELAY, delay_seconds=self.config.delay_seconds)
        if fault is not None:
            self.inflicted.append((path, fault.kind))
        return fault

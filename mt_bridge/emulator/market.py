"""Prices for the emulator's symbols: a seeded random walk, quoted at the symbol's digits.

Random steps are drawn as floats (they are noise, not money) and every price is a ``Decimal``
quantized to the symbol's digits before anything uses it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from mt_bridge.emulator.config import SymbolConfig


@dataclass(frozen=True, slots=True)
class Quote:
    """A two-sided price: buyers pay ``ask``, sellers get ``bid``."""

    bid: Decimal
    ask: Decimal


def point(digits: int) -> Decimal:
    """The smallest price step of a symbol with ``digits`` decimals."""
    return Decimal(1).scaleb(-digits)


def currencies_of(symbol_name: str) -> tuple[str, str]:
    """Base and quote currency from a forex-style name (``XAUUSD.m`` gives XAU and USD)."""
    letters = symbol_name[:6].upper()
    return letters[:3], letters[3:6]


class Market:
    """The current mid price of every configured symbol."""

    def __init__(self, symbols: tuple[SymbolConfig, ...], rng: random.Random) -> None:
        self._symbols = {symbol.name: symbol for symbol in symbols}
        self._mid = {symbol.name: symbol.base_price for symbol in symbols}
        self._rng = rng

    def has(self, name: str) -> bool:
        """True when ``name`` is a configured symbol."""
        return name in self._symbols

    def symbol(self, name: str) -> SymbolConfig:
        """The configuration of symbol ``name``; KeyError when it is unknown."""
        return self._symbols[name]

    @property
    def names(self) -> list[str]:
        """Every symbol name, in configuration order."""
        return list(self._symbols)

    def mid(self, name: str) -> Decimal:
        """The symbol's mid price now."""
        return self._mid[name]

    def set_mid(self, name: str, price: Decimal) -> None:
        """Put the symbol's mid price at ``price`` (a dealer's manual quote; tests use it too)."""
        symbol = self._symbols[name]
        self._mid[name] = price.quantize(point(symbol.digits))

    def quote(self, name: str) -> Quote:
        """Bid and ask around the mid price, the configured spread apart."""
        symbol = self._symbols[name]
        step = point(symbol.digits)
        spread = step * symbol.spread_points
        bid = (self._mid[name] - spread / 2).quantize(step, rounding=ROUND_HALF_EVEN)
        return Quote(bid=bid, ask=bid + spread)

    def advance(self) -> None:
        """Move every price one random step."""
        for name, symbol in self._symbols.items():
            change = Decimal(repr(round(self._rng.gauss(0.0, float(symbol.volatility)), 8)))
            moved = self._mid[name] * (1 + change)
            self._mid[name] = max(moved, point(symbol.digits)).quantize(point(symbol.digits))

    def rate(self, source: str, target: str) -> Decimal:
        """How many ``target`` one ``source`` is worth, from the symbols' mid prices.

        Raises KeyError when no configured symbol links the two currencies.
        """
        if source == target:
            return Decimal(1)
        for name in self._symbols:
            base, quote = currencies_of(name)
            if (base, quote) == (source, target):
                return self._mid[name]
            if (base, quote) == (target, source):
                return Decimal(1) / self._mid[name]
        raise KeyError(f"no symbol converts {source} to {target}")

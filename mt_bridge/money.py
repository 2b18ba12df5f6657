"""Money crossing the platform edge: decimal amounts in, integer minor units out, and back.

MT servers keep money as doubles rounded to the deposit currency's digits, so a decimal with
more places than the currency has is binary noise, not a fraction of a cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

PLATFORM_NOISE_ROUNDING = ROUND_HALF_EVEN
"""Named rounding point: the platform already rounded to the currency's digits, so digits past
them are float noise; rounding to the nearest recovers the server's own value, favouring no side."""


def to_minor_units(amount: Decimal, currency_digits: int) -> int:
    """Integer minor units of ``amount`` in a currency with ``currency_digits`` decimal places."""
    if currency_digits < 0:
        raise ValueError(f"currency digits must not be negative, got {currency_digits}")
    scaled = amount.scaleb(currency_digits)
    return int(scaled.quantize(Decimal(1), rounding=PLATFORM_NOISE_ROUNDING))


def from_minor_units(amount: int, currency_digits: int) -> Decimal:
    """The exact decimal amount for ``amount`` minor units, to send to the platform."""
    if currency_digits < 0:
        raise ValueError(f"currency digits must not be negative, got {currency_digits}")
    return Decimal(amount).scaleb(-currency_digits)

"""Every rounding point of the commission engine, named, and always in the house's favour.

A commission is money the house pays out, so every exact amount is rounded *down* to a whole
minor unit, once per line, after the rule's formula and before caps and overriding apply. Lots
are kept exactly as integers of 1e-8 lot (MT5's ``VolumeExt`` precision).
"""

from __future__ import annotations

from decimal import Decimal

LOT_UNITS = 10**8
"""Stored volume units per lot."""


def round_commission_down(exact_minor: Decimal) -> int:
    """A commission line's amount in whole minor units: the exact amount rounded toward zero-or-less.

    Never negative: a formula that comes out below zero earns nothing.
    """
    if exact_minor <= 0:
        return 0
    return int(exact_minor)  # truncation, which for a positive amount is the floor


def lots_to_units(lots: Decimal) -> int:
    """Lots as stored integer units; refuses a volume finer than 1e-8 lot rather than round it."""
    units = lots * LOT_UNITS
    if units != units.to_integral_value():
        raise ValueError(f"volume {lots} is finer than 1e-8 lot")
    return int(units)


def units_to_lots(units: int) -> Decimal:
    return (Decimal(units) / LOT_UNITS).normalize()


def as_decimal(value: object, name: str) -> Decimal:
    """A rule parameter as an exact Decimal; floats are refused so no binary fraction sneaks in."""
    if isinstance(value, bool | float):
        raise ValueError(f"{name} must be a decimal string or an integer, not {type(value).__name__}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        try:
            result = Decimal(value)
        except ArithmeticError as exc:
            raise ValueError(f"{name} is not a number: {value!r}") from exc
        if not result.is_finite():
            raise ValueError(f"{name} must be finite")
        return result
    raise ValueError(f"{name} must be a decimal string or an integer")


def as_minor(value: object, name: str) -> int:
    """A rule parameter that is money: a non-negative integer of minor units."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer of minor units")
    return value
